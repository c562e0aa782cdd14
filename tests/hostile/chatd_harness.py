"""Plumbing for the attack suite: a real chatd on port 0, clients from chosen 127.0.0.x
source addresses, framed send/receive, waits, and chatd's CPU, RSS and log size.

chatd is started the way systemd starts it (and the way tests/support/chatd_process.cpp
and tests/soak/soak.py do): the listener is bound here on 127.0.0.1:0 and handed over as
fd 3 with LISTEN_FDS=1 LISTEN_FDNAMES=chat LISTEN_PID, and READY=1 is awaited on a private
NOTIFY_SOCKET. Framing comes from the Part-1 peer tests/interop/py_client.py.

Python 3 standard library only.
"""

import json
import os
import re
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from py_client import decode_packets, encode_packet  # noqa: E402  (the Part-1 peer's framing)

MAX_PAYLOAD = 65535
CLK_TCK = os.sysconf("SC_CLK_TCK")
MODERN_CAPS = ["dm", "emote", "who", "rooms", "info", "history"]


class Closed(Exception):
    """The server closed (or reset) the connection."""


# ---- chatd -----------------------------------------------------------------------


_MOVE_TWO = """
import fcntl, os, sys
high = [fcntl.fcntl(int(fd), fcntl.F_DUPFD, 64) for fd in sys.argv[1:3]]
for fd in sys.argv[1:3]:
    os.close(int(fd))
for target, fd in zip((3, 4), high):
    os.dup2(fd, target)
    os.close(fd)
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[3], sys.argv[3:])
"""


class Chatd:
    """A chatd process with an inherited listener (fd 3), a control socket in a private
    directory and its stdout/stderr captured to a file."""

    _help_cache = {}

    def __init__(self, binary, chatctl, event_loop, args=(), ready_timeout=30.0, tls=False):
        self.binary = binary
        self.chatctl_path = chatctl
        self.dir = tempfile.mkdtemp(prefix="chatd-hostile-")
        self.ctl_path = os.path.join(self.dir, "ctl")
        self.log_path = os.path.join(self.dir, "chatd.stderr")
        self.args = list(args)
        self.proc = None
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(4096)
        self.port = listener.getsockname()[1]
        notify_path = os.path.join(self.dir, "notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(notify_path)
        self._ready = threading.Event()
        self._stop_notify = False
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LISTEN_", "NOTIFY_", "WATCHDOG_"))}
        env.update(LISTEN_FDS="1", LISTEN_FDNAMES="chat", NOTIFY_SOCKET=notify_path)
        tls_listener = None
        self.tls_port = None
        self.cert_path = os.path.join(self.dir, "cert.pem")
        tls_args = []
        if tls:
            # A P-256 certificate for "localhost", made here; a second listener named as
            # chatd-tls.socket names it.
            key_path = os.path.join(self.dir, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-keyout", key_path, "-out",
                            self.cert_path, "-subj", "/CN=localhost", "-days", "2"],
                           check=True, capture_output=True, timeout=30)
            tls_listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tls_listener.bind(("127.0.0.1", 0))
            tls_listener.listen(4096)
            self.tls_port = tls_listener.getsockname()[1]
            env.update(LISTEN_FDS="2", LISTEN_FDNAMES="chat:chat-tls")
            tls_args = ["--tls-cert=" + self.cert_path, "--tls-key=" + key_path]
        argv = [binary, "--event-loop=" + event_loop, "--control-socket=" + self.ctl_path,
                "--log-target=stderr"] + tls_args + self.args
        lfd = listener.fileno()
        with open(self.log_path, "wb") as log:
            if tls_listener is None:
                # sh moves the listener to fd 3 and sets LISTEN_PID to its own pid, which
                # exec hands on to chatd.
                move = "" if lfd == 3 else "exec 3<&%d %d<&-; " % (lfd, lfd)
                self.proc = subprocess.Popen(
                    ["/bin/sh", "-c", move + 'LISTEN_PID=$$ exec "$@"', "sh"] + argv,
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, pass_fds=(lfd,))
            else:
                # Two listeners to fds 3 and 4 (through copies above both, whatever numbers
                # they had), then exec: the pid, and so LISTEN_PID, stays.
                tfd = tls_listener.fileno()
                self.proc = subprocess.Popen(
                    [sys.executable, "-c", _MOVE_TWO, str(lfd), str(tfd)] + argv,
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                    pass_fds=(lfd, tfd))
        listener.close()  # chatd owns it now
        if tls_listener is not None:
            tls_listener.close()
        # Left unread, the datagram queue fills and chatd's next sd_notify() blocks
        # its loop (STATUS= comes with every client count change): read it all along.
        self._notify_thread = threading.Thread(target=self._read_notify, daemon=True)
        self._notify_thread.start()
        deadline = time.monotonic() + ready_timeout
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None:
                unknown = [a.split("=")[0] for a in self.args
                           if a.startswith("--") and not self.supports(binary, a.split("=")[0])]
                raise AssertionError("chatd %s exited with %d before READY=1%s:\n%s"
                                     % (" ".join(self.args), self.proc.returncode,
                                        " (options this chatd does not have: %s)"
                                        % " ".join(unknown) if unknown else "", self.log_tail()))
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError("no READY=1 from chatd:\n" + self.log_tail())

    def _read_notify(self):
        self.notify.settimeout(0.2)
        while not self._stop_notify:
            try:
                msg = self.notify.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if b"READY=1" in msg.split(b"\n"):
                self._ready.set()

    @classmethod
    def supports(cls, binary, flag):
        """Whether this chatd build knows `flag` (read from its --help)."""
        if binary not in cls._help_cache:
            out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10)
            cls._help_cache[binary] = out.stdout + out.stderr
        return re.search(r"(^|\s|,)" + re.escape(flag) + r"\b", cls._help_cache[binary]) is not None

    # -- observation

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def log_bytes(self):
        return os.path.getsize(self.log_path)

    def log_tail(self, limit=4000):
        with open(self.log_path, "rb") as f:
            f.seek(max(0, os.path.getsize(self.log_path) - limit))
            return f.read().decode("utf-8", "replace")

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # utime and stime are fields 14 and 15 of stat(5); fields[0] here is field 3.
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def cpu_fraction(self, window=1.0):
        """Share of one core chatd used over `window` seconds."""
        c0, t0 = self.cpu_seconds(), time.monotonic()
        time.sleep(window)
        return (self.cpu_seconds() - c0) / (time.monotonic() - t0)

    def wait_idle(self, limit=0.10, window=1.0, tries=2):
        """Waits for a `window` in which chatd uses < `limit` of a core; returns
        (ok, the fractions measured)."""
        samples = []
        for _ in range(tries):
            samples.append(self.cpu_fraction(window))
            if samples[-1] < limit:
                return True, samples
        return False, samples

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    # -- control

    def chatctl(self, *args, timeout=5.0):
        """Runs chatctl against this chatd; returns (exit code, stdout, stderr, seconds)."""
        t0 = time.monotonic()
        try:
            r = subprocess.run([self.chatctl_path, "--socket", self.ctl_path, "--timeout",
                                str(timeout)] + list(args),
                               capture_output=True, timeout=timeout + 5)
        except subprocess.TimeoutExpired:
            return None, "", "chatctl did not finish", time.monotonic() - t0
        return (r.returncode, r.stdout.decode("utf-8", "replace"),
                r.stderr.decode("utf-8", "replace"), time.monotonic() - t0)

    def status(self):
        code, out, err, _ = self.chatctl("--json", "status")
        if code != 0:
            raise AssertionError("chatctl status exited %s: %s%s" % (code, out, err[:500]))
        return json.loads(out)

    # -- end

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stop_notify = True
        self._notify_thread.join(timeout=1)
        self.notify.close()
        return self.proc.returncode

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- clients ---------------------------------------------------------------------


def frame(packet):
    """One framed packet; refuses what the protocol cannot carry, so an attack that
    needs an exact size says so instead of being cut short."""
    data = encode_packet(packet)
    if len(data) - 2 > MAX_PAYLOAD:
        raise ValueError("payload of %d bytes does not fit a frame" % (len(data) - 2))
    return data


def connect(port, source="127.0.0.1", rcvbuf=None, blocking=True, host="127.0.0.1"):
    """A TCP socket bound to `source` (any 127.0.0.x is loopback on Linux) and
    connected (or, non-blocking, connecting) to chatd."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if rcvbuf is not None:
        # Set before connect, so the window chatd sees is small from the start.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((source, 0))
    if blocking:
        s.connect((host, port))
    else:
        s.setblocking(False)
        s.connect_ex((host, port))
    return s


class Client:
    """A framed client read from the calling thread, with timeouts."""

    def __init__(self, port, source="127.0.0.1", rcvbuf=None, sock=None):
        self.source = source
        self.sock = sock if sock is not None else connect(port, source, rcvbuf)
        self.inbuf = b""
        self.pending = []  # decoded, not yet returned
        self.seen = []  # every packet returned so far
        self.closed = False
        self.close_reason = None
        self.nick = None

    def send(self, packet):
        self.sock.sendall(frame(packet))

    def send_raw(self, data):
        self.sock.sendall(data)

    def hello(self, nick, caps=None):
        self.nick = nick
        packet = {"type": "hello", "nick": nick}
        if caps is not None:
            packet["caps"] = caps
        self.send(packet)

    def recv(self, timeout):
        """The next packet, or None after `timeout`; raises Closed at EOF or reset."""
        if self.pending:
            p = self.pending.pop(0)
            self.seen.append(p)
            return p
        if self.closed:
            raise Closed(self.close_reason)
        deadline = time.monotonic() + timeout
        while not self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                return None
            except OSError as e:
                self.closed, self.close_reason = True, "reset: %s" % e
                raise Closed(self.close_reason)
            if not data:
                self.closed, self.close_reason = True, "eof"
                raise Closed("eof")
            packets, self.inbuf = decode_packets(self.inbuf + data)
            self.pending.extend(packets)
        p = self.pending.pop(0)
        self.seen.append(p)
        return p

    def wait_for(self, pred, timeout, what="packet"):
        """Reads until a packet satisfies `pred`; returns it. AssertionError on timeout
        or close (with what was seen)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                p = self.recv(max(0.0, left))
            except Closed as e:
                raise AssertionError("%s (%s): closed (%s) while waiting for %s; last seen %s"
                                     % (self.nick, self.source, e, what, brief(self.seen[-3:])))
            if p is not None and pred(p):
                return p
            if p is None and time.monotonic() >= deadline:
                raise AssertionError("%s (%s): no %s within %.1f s; last seen %s"
                                     % (self.nick, self.source, what, timeout, brief(self.seen[-3:])))

    def wait_joined(self, timeout=5.0):
        """After hello: waits for the client's own join."""
        return self.wait_for(lambda p: p.get("type") == "join" and p.get("nick") == self.nick,
                             timeout, "own join")

    def read_until_closed(self, timeout):
        """Reads everything until chatd closes; returns the packets read, or raises
        AssertionError if the connection is still open after `timeout`."""
        deadline = time.monotonic() + timeout
        got = []
        while True:
            try:
                p = self.recv(max(0.0, deadline - time.monotonic()))
            except Closed:
                return got
            if p is not None:
                got.append(p)
            elif time.monotonic() >= deadline:
                raise AssertionError("%s (%s) still open after %.1f s; last seen %s"
                                     % (self.nick, self.source, timeout, brief(got[-3:])))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Bystander:
    """A joined client whose socket a background thread reads all along (optionally at a
    limited byte rate), recording every packet; probe() measures echo latency: a chat
    it sends comes back to itself."""

    def __init__(self, port, nick, source, caps=None, rate=None, rcvbuf=None, timeout=5.0):
        self.nick = nick
        self.source = source
        self.rate = rate  # bytes per second, None = as fast as possible
        self.sock = connect(port, source, rcvbuf)
        self.packets = []
        self.closed = None  # why, once closed
        self.cond = threading.Condition()
        self.probes = 0
        self.latencies = []
        self._stop = False
        self.sock.sendall(frame(dict({"type": "hello", "nick": nick},
                                     **({"caps": caps} if caps is not None else {}))))
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.wait(lambda p: p.get("type") == "join" and p.get("nick") == nick, timeout, "own join")

    def _run(self):
        buf = b""
        self.sock.settimeout(0.1)
        chunk = 65536 if self.rate is None else max(4096, int(self.rate / 50))
        while not self._stop:
            t0 = time.monotonic()
            try:
                data = self.sock.recv(chunk)
            except socket.timeout:
                continue
            except OSError as e:
                data, why = None, "reset: %s" % e
            if not data:
                with self.cond:
                    self.closed = why if data is None else "eof"
                    self.cond.notify_all()
                return
            packets, buf = decode_packets(buf + data)
            if packets:
                now = time.monotonic()
                with self.cond:
                    self.packets.extend((now, p) for p in packets)
                    self.cond.notify_all()
            if self.rate is not None:
                time.sleep(max(0.0, len(data) / self.rate - (time.monotonic() - t0)))

    def wait(self, pred, timeout, what="packet", start=0):
        """Waits until a packet (from index `start` on) satisfies pred; returns its
        (time, packet)."""
        deadline = time.monotonic() + timeout
        i = start
        with self.cond:
            while True:
                while i < len(self.packets):
                    if pred(self.packets[i][1]):
                        return self.packets[i]
                    i += 1
                if self.closed is not None:
                    raise AssertionError("bystander %s (%s) closed (%s) while waiting for %s; "
                                         "last seen %s" % (self.nick, self.source, self.closed,
                                                           what, self.tail()))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("bystander %s (%s): no %s within %.1f s; last seen %s"
                                         % (self.nick, self.source, what, timeout, self.tail()))
                self.cond.wait(left)

    def tail(self, n=3):
        return brief([p for _, p in self.packets[-n:]])

    def send(self, packet):
        self.sock.sendall(frame(packet))

    def probe(self, timeout=2.0):
        """Sends one chat and returns the seconds until it came back."""
        self.probes += 1
        text = "probe %d from %s" % (self.probes, self.nick)
        with self.cond:
            start = len(self.packets)
        t0 = time.monotonic()
        self.send({"type": "chat", "message": text})
        t1, _ = self.wait(lambda p: p.get("type") == "chat" and p.get("nick") == self.nick
                          and p.get("message") == text, timeout, "echo of " + repr(text), start)
        self.latencies.append(t1 - t0)
        return t1 - t0

    def probe_many(self, count=5, gap=0.02, timeout=2.0):
        """Sends `count` probes one after the other; returns their latencies."""
        got = []
        for _ in range(count):
            time.sleep(gap)
            got.append(self.probe(timeout))
        return got

    def errors(self):
        with self.cond:
            return [p for _, p in self.packets if p.get("type") == "error"]

    def received(self, pred):
        with self.cond:
            return [p for _, p in self.packets if pred(p)]

    def close(self):
        self._stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(timeout=2)
        self.sock.close()


class ChildSender:
    """Writes each (socket, bytes) job from a forked child process, one thread per socket.

    The attack traffic is written from another process so that the bystander's latency
    measures chatd and not this interpreter: ten threads in sendall() take turns on the
    GIL, and the bystander's reader thread would queue behind them."""

    def __init__(self, jobs):
        self.pid = os.fork()
        if self.pid == 0:  # the child: only the sockets and the prebuilt bytes are used
            code = 0
            try:
                threads = [threading.Thread(target=self._send, args=job) for job in jobs]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
            except BaseException:
                code = 1
            finally:
                os._exit(code)

    @staticmethod
    def _send(sock, data):
        try:
            sock.sendall(data)
        except OSError:
            pass  # dropped by chatd while sending: that is what some attacks expect

    def wait(self, timeout):
        """True once the child has written everything (or had its sockets closed)."""
        deadline = time.monotonic() + timeout
        while self.pid is not None:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid != 0:
                self.pid = None
                break
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def stop(self):
        if self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = None


def brief(packets):
    """Packets shortened for a failure message (65 KB strings do not help anyone)."""
    out = []
    for p in packets:
        q = {k: (v[:40] + "...(%d)" % len(v) if isinstance(v, str) and len(v) > 48 else v)
             for k, v in p.items()}
        out.append(q)
    return out


def wait_until(cond, timeout, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
