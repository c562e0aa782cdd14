#!/usr/bin/env python3
"""Soak test for chatd: hundreds of clients joining, chatting and leaving at random.

Starts chatd itself (a listening socket on 127.0.0.1:0 handed over the systemd way,
READY=1 awaited on a private NOTIFY_SOCKET), then runs rounds of two phases until
--seconds have passed:

  churn phase  connected clients leave at random moments (clean close, reset, or
               killed in the middle of a frame) while others connect and join;
  chat phase   every connected client says a few lines at random moments.

A "monitor" client stays joined from start to end, so its stream is chatd's global
order of events. Checks, all exact:
  * chat phase: every connected client receives every line of the phase, nothing
    else, in the same order as the monitor (so per-sender order holds too);
  * churn phase: the monitor sees exactly one join per newcomer and one leave per
    leaver; a client connected through the phase sees exactly the monitor's events,
    a newcomer exactly the monitor's events from its own join on, a leaver a prefix;
  * afterwards chatd's open descriptors are back to the start and its RSS is back
    near the level after the warm-up round (no growth with the rounds).

Python 3 standard library only. Exit status 0 when every check passed.
"""

import argparse
import json
import os
import random
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

LEAVE_KINDS = ("close", "reset", "midframe")


class Failure(Exception):
    pass


# ---- chatd -----------------------------------------------------------------------


class Chatd:
    """chatd with an inherited listener on fd 3 (LISTEN_FDS=1) and READY=1 awaited."""

    def __init__(self, binary, event_loop, extra_args):
        self.dir = tempfile.mkdtemp(prefix="chatd-soak-")
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1024)
        self.port = self.listener.getsockname()[1]
        notify_path = os.path.join(self.dir, "notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(notify_path)
        self.notifications = 0
        self.last_status = ""
        self.log_path = os.path.join(self.dir, "chatd.log")
        log = open(self.log_path, "wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LISTEN_", "NOTIFY_"))}
        env.update(LISTEN_FDS="1", LISTEN_FDNAMES="chat", NOTIFY_SOCKET=notify_path)
        args = [binary, "--control-socket=", "--event-loop=" + event_loop] + extra_args
        lfd = self.listener.fileno()
        # sh moves the listener to fd 3 and sets LISTEN_PID to its own pid, which exec
        # hands on to chatd.
        move = "" if lfd == 3 else "exec 3<&%d %d<&-; " % (lfd, lfd)
        self.proc = subprocess.Popen(
            ["/bin/sh", "-c", move + 'LISTEN_PID=$$ exec "$@"', "sh"] + args,
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, pass_fds=(lfd,))
        log.close()
        self.listener.close()  # chatd owns it now
        deadline = time.monotonic() + 30
        self.notify.settimeout(0.2)
        while True:
            try:
                if b"READY=1" in self.notify.recv(4096).split(b"\n"):
                    self.notifications += 1
                    self.notify.setblocking(False)
                    return
            except socket.timeout:
                pass
            if self.proc.poll() is not None:
                raise Failure("chatd exited before READY=1:\n" + self.log())
            if time.monotonic() > deadline:
                raise Failure("no READY=1 from chatd:\n" + self.log())

    def drain_notify(self):
        """Reads what chatd sent to NOTIFY_SOCKET, as systemd would. Left unread, the
        datagram queue (net.unix.max_dgram_qlen, often 10) fills and chatd's next
        sd_notify() blocks its event loop."""
        while True:
            try:
                msg = self.notify.recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            self.notifications += 1
            self.last_status = next((line for line in msg.decode("utf-8", "replace").split("\n")
                                     if line.startswith("STATUS=")), self.last_status)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode


# ---- clients ---------------------------------------------------------------------


def frame(obj):
    payload = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return struct.pack(">H", len(payload)) + payload


class Client:
    def __init__(self, soak, nick):
        self.soak = soak
        self.nick = nick
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.connect_ex(("127.0.0.1", soak.chatd.port))
        self.inbuf = bytearray()
        self.outbuf = bytearray(frame({"type": "hello", "nick": nick}))
        self.events = []  # (type, nick, message) received in the current phase
        self.closed = False
        self.sent = 0
        soak.sel.register(self.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, self)

    def send(self, obj):
        if not self.outbuf:
            self.soak.sel.modify(self.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, self)
        self.outbuf += frame(obj)

    def on_ready(self, mask):
        if mask & selectors.EVENT_WRITE and self.outbuf:
            try:
                n = self.sock.send(self.outbuf)
                del self.outbuf[:n]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as e:
                self.fail("write error %s" % e)
                return
            if not self.outbuf:
                self.soak.sel.modify(self.sock, selectors.EVENT_READ, self)
        if mask & selectors.EVENT_READ:
            try:
                data = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self.fail("read error %s" % e)
                return
            if not data:
                self.fail("closed by chatd")
                return
            self.inbuf += data
            while len(self.inbuf) >= 2:
                n = struct.unpack(">H", self.inbuf[:2])[0]
                if len(self.inbuf) < 2 + n:
                    break
                packet = json.loads(bytes(self.inbuf[2:2 + n]).decode("utf-8"))
                del self.inbuf[:2 + n]
                kind = packet.get("type")
                if kind == "error":
                    self.fail("error from chatd: %r" % packet)
                    return
                self.events.append((kind, packet.get("nick"), packet.get("message")))
                self.soak.deliveries += 1

    def fail(self, why):
        raise Failure("%s: %s" % (self.nick, why))

    def leave(self, kind):
        """Disconnects: clean close, reset (SO_LINGER 0) or in the middle of a frame."""
        self.soak.sel.unregister(self.sock)
        self.closed = True
        if kind == "reset":
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif kind == "midframe":
            half = frame({"type": "chat", "message": "never finished " * 4})
            try:
                self.sock.send(half[: len(half) // 2])
            except OSError:
                pass
        self.sock.close()


# ---- the soak --------------------------------------------------------------------


class Soak:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        # Hundreds of clients from 127.0.0.1: the per-address limit is off, explicitly.
        self.chatd = Chatd(args.chatd, args.event_loop, ["--max-per-address=0"])
        self.sel = selectors.DefaultSelector()
        self.connected = {}  # nick -> Client, monitor included
        self.generation = 0
        self.deliveries = 0
        self.checked = 0
        self.stats = dict(rounds=0, connections=0, lines=0, max_clients=0,
                          **{"leave_" + k: 0 for k in LEAVE_KINDS})
        self.monitor = None

    def pump(self, timeout):
        self.chatd.drain_notify()
        for key, mask in self.sel.select(timeout):
            client = key.data
            if not client.closed:
                client.on_ready(mask)

    def wait(self, what, done, timeout=None):
        deadline = time.monotonic() + (timeout or self.args.patience)
        while not done():
            if time.monotonic() > deadline:
                raise Failure("timed out waiting for " + what)
            self.pump(0.05)

    def run_actions(self, actions):
        """Runs (delay, fn) actions at their moment while pumping I/O."""
        start = time.monotonic()
        actions = sorted(actions, key=lambda a: a[0])
        i = 0
        while i < len(actions):
            now = time.monotonic() - start
            while i < len(actions) and actions[i][0] <= now:
                actions[i][1]()
                i += 1
            if i < len(actions):
                self.pump(max(0.0, min(0.02, actions[i][0] - now)))

    def new_nick(self, slot):
        self.generation += 1
        return "s%dg%d" % (slot, self.generation)

    # -- churn phase --

    def churn(self, leavers, arrivals):
        """`leavers` leave and `arrivals` new clients join, at random moments."""
        for c in self.connected.values():
            c.events = []
        staying = [c for c in self.connected.values() if c not in leavers]
        newcomers = []
        kinds = {}

        def leave(c):
            kind = self.rng.choice(LEAVE_KINDS)
            kinds[c.nick] = kind
            self.stats["leave_" + kind] += 1
            del self.connected[c.nick]
            c.leave(kind)

        def arrive():
            c = Client(self, self.new_nick(len(newcomers)))
            newcomers.append(c)
            self.connected[c.nick] = c
            self.stats["connections"] += 1

        window = self.args.phase_window
        actions = [(self.rng.uniform(0, window), lambda c=c: leave(c)) for c in leavers]
        actions += [(self.rng.uniform(0, window), arrive) for _ in range(arrivals)]
        self.run_actions(actions)
        expected = len(leavers) + len(newcomers)
        mon = self.monitor
        self.wait("the monitor to see %d joins and leaves" % expected,
                  lambda: len(mon.events) >= expected)
        # The monitor's stream is the global order of this phase's events.
        g = list(mon.events)
        joins = sorted(n for (t, n, _) in g if t == "join")
        leaves = sorted(n for (t, n, _) in g if t == "leave")
        if (len(g) != expected or joins != sorted(c.nick for c in newcomers)
                or leaves != sorted(c.nick for c in leavers)):
            raise Failure("monitor saw %r for joins %r and leaves %r" % (
                g, [c.nick for c in newcomers], [c.nick for c in leavers]))
        index = {n: i for i, (t, n, _) in enumerate(g) if t == "join"}

        def expected_for(c):
            return g[index[c.nick]:] if c in newcomers else g

        self.wait("every client to see the churn",
                  lambda: all(len(c.events) >= len(expected_for(c))
                              for c in self.connected.values()))
        for c in self.connected.values():
            want = expected_for(c)
            if c.events != want:
                raise Failure("%s saw %r during the churn, expected %r" % (c.nick, c.events, want))
            self.checked += len(want)
        for c in leavers:
            if c.events != g[: len(c.events)]:
                raise Failure("leaver %s (%s) saw %r, not a prefix of %r" % (
                    c.nick, kinds[c.nick], c.events, g))
        del staying

    # -- chat phase --

    def chat(self):
        for c in self.connected.values():
            c.events = []
        sent = {}
        actions = []
        for c in self.connected.values():
            lines = []
            count = self.rng.randint(1, self.args.lines)
            # Random moments, in order: a client's lines leave in the order written.
            moments = sorted(self.rng.uniform(0, self.args.phase_window) for _ in range(count))
            for i, at in enumerate(moments):
                text = "%s line %d %s" % (c.nick, c.sent + i, self.rng.choice(
                    ["hi", "Hello?", "oh no!! :)", "héllo wörld", "中文 😀", "x" * 300]))
                lines.append(text)
                actions.append((at, lambda c=c, t=text: c.send({"type": "chat", "message": t})))
            c.sent += len(lines)
            sent[c.nick] = lines
        total = sum(len(v) for v in sent.values())
        self.stats["lines"] += total
        self.run_actions(actions)
        self.wait("every client to receive the %d lines of the phase" % total,
                  lambda: all(len(c.events) >= total for c in self.connected.values()))
        reference = self.monitor.events
        by_sender = {}
        for t, n, m in reference:
            if t != "chat":
                raise Failure("monitor got %r during the chat phase" % ((t, n, m),))
            by_sender.setdefault(n, []).append(m)
        if by_sender != {n: v for n, v in sent.items() if v}:
            raise Failure("the lines chatd delivered are not the lines sent (per sender)")
        for c in self.connected.values():
            if c.events != reference:
                raise Failure("%s's lines differ from the monitor's (order or content)" % c.nick)
            self.checked += total

    # -- the whole run --

    def round(self, first):
        free = self.args.clients - len(self.connected)
        if first:
            leavers, arrivals = [], free
        else:
            others = [c for c in self.connected.values() if c is not self.monitor]
            leavers = self.rng.sample(others, self.rng.randint(0, max(1, len(others) * 2 // 5)))
            arrivals = self.rng.randint(0, free + len(leavers))
        self.churn(leavers, arrivals)
        self.stats["max_clients"] = max(self.stats["max_clients"], len(self.connected))
        self.chat()
        self.stats["rounds"] += 1

    def everyone_leaves(self):
        self.churn([c for c in self.connected.values() if c is not self.monitor], 0)

    def settle(self, fds0):
        """Waits (bounded) for chatd to reap what the clients left behind."""
        deadline = time.monotonic() + self.args.patience
        while self.chatd.fds() > fds0 and time.monotonic() < deadline:
            self.chatd.drain_notify()
            time.sleep(0.05)
        return self.chatd.fds()

    def run(self):
        start = time.monotonic()
        # sd_notify's socket lives a moment past READY=1: wait until the count is steady.
        fds0 = self.chatd.fds()
        steady = time.monotonic()
        while time.monotonic() - steady < 0.5 and time.monotonic() - start < 10:
            self.chatd.drain_notify()
            time.sleep(0.05)
            if self.chatd.fds() != fds0:
                fds0 = self.chatd.fds()
                steady = time.monotonic()
        rss0 = self.chatd.rss_kib()
        self.monitor = Client(self, "monitor")
        self.connected["monitor"] = self.monitor
        self.wait("the monitor's join", lambda: self.monitor.events == [("join", "monitor", None)])
        # Warm-up: everyone joins, talks and leaves once; RSS then is the baseline.
        self.round(first=True)
        self.everyone_leaves()
        fds_warm = self.settle(fds0 + 1)
        rss_warm = self.chatd.rss_kib()
        rss_peak = rss_warm
        # The rounds proper: --seconds of churn and chat after the warm-up, at least one.
        rounds_start = time.monotonic()
        while self.stats["rounds"] < 2 or time.monotonic() - rounds_start < self.args.seconds:
            self.round(first=self.stats["rounds"] == 1)
            rss_peak = max(rss_peak, self.chatd.rss_kib())
        self.everyone_leaves()
        fds_mon = self.settle(fds0 + 1)
        rss_end = self.chatd.rss_kib()
        self.monitor.leave("close")
        self.connected.clear()
        fds_end = self.settle(fds0)
        # STATUS= is sent at most once a second: the last one must say nobody is left.
        deadline = time.monotonic() + 5
        while (not self.chatd.last_status.startswith("STATUS=0 clients")
               and time.monotonic() < deadline):
            self.chatd.drain_notify()
            time.sleep(0.05)
        elapsed = time.monotonic() - start
        status = self.chatd.stop()

        s = self.stats
        print("soak (%s): %.1f s, %d rounds, %d connections (up to %d at once), %d lines, "
              "%d deliveries checked; leaves: %d close, %d reset, %d mid-frame" % (
                  self.args.event_loop, elapsed, s["rounds"], s["connections"], s["max_clients"],
                  s["lines"], self.checked, s["leave_close"], s["leave_reset"],
                  s["leave_midframe"]))
        print("chatd fds: %d at start, %d after warm-up (monitor only), %d at the end "
              "(monitor only), %d after the monitor left" % (fds0, fds_warm, fds_mon, fds_end))
        print("chatd notifications: %d (last %s)" % (self.chatd.notifications,
                                                       self.chatd.last_status))
        print("chatd RSS: %d KiB at start, %d after warm-up, %d peak, %d at the end" % (
            rss0, rss_warm, rss_peak, rss_end))
        problems = []
        if fds_end != fds0:
            problems.append("descriptors not back: %d, started with %d" % (fds_end, fds0))
        if fds_mon != fds_warm:
            problems.append("descriptors with only the monitor: %d after warm-up, %d at the end"
                            % (fds_warm, fds_mon))
        slack = max(self.args.rss_slack_kib, rss_warm // 4)
        if self.args.rss_check and rss_end > rss_warm + slack:
            problems.append("RSS grew from %d KiB after warm-up to %d KiB (slack %d)" % (
                rss_warm, rss_end, slack))
        if not self.chatd.last_status.startswith("STATUS=0 clients"):
            problems.append("chatd's last STATUS= is %r, not 0 clients" % self.chatd.last_status)
        if status != 0:
            problems.append("chatd exit status %r after SIGTERM" % status)
        if problems:
            raise Failure("; ".join(problems))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chatd", required=True, help="path of the chatd binary")
    ap.add_argument("--seconds", type=float, default=20, help="duration of the rounds")
    ap.add_argument("--clients", type=int, default=300, help="clients connected at most")
    ap.add_argument("--event-loop", default="select", choices=["select", "epoll"])
    ap.add_argument("--lines", type=int, default=3, help="most lines per client per chat phase")
    ap.add_argument("--phase-window", type=float, default=0.3,
                    help="seconds over which a phase's actions are spread")
    ap.add_argument("--patience", type=float, default=60, help="bound on every wait, seconds")
    ap.add_argument("--rss-slack-kib", type=int, default=8192)
    ap.add_argument("--no-rss-check", dest="rss_check", action="store_false",
                    help="report RSS only (sanitizer builds hold freed memory on purpose)")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    print("soak seed %d (rerun with --seed %d)" % (args.seed, args.seed))
    soak = None
    try:
        soak = Soak(args)
        soak.run()
    except Failure as e:
        print("SOAK FAILED: %s" % e, file=sys.stderr)
        if soak is not None:
            soak.chatd.stop()
            print("---- chatd log (tail) ----\n" + soak.chatd.log()[-4000:], file=sys.stderr)
        return 1
    finally:
        if soak is not None:
            soak.chatd.stop()
            soak.chatd.cleanup()
    print("soak passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
