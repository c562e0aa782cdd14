#!/usr/bin/env python3
"""The attack suite of issue 10: each attack against a real chatd process, loopback only,
attackers from their own 127.0.0.x source addresses, and a bystander checked all along.

Usage: test_hostile.py --chatd PATH --chatctl PATH --event-loop select|epoll
                       [--sanitizer] [--latency-ms N] [unittest arguments...]

What is checked for the bystander (a client on its own address that is not attacking):
  * echo latency: a chat it sends comes back to itself: the median of 7 probes under
    --latency-ms (50 ms; --sanitizer raises the default to 250 ms, since ASan/TSan builds
    are several times slower: the thresholds are about the bystander, not about absolute
    speed), and no single probe over 5 times that (a box shared with compilers delays
    single probes whatever chatd does; a starved bystander is slow on every probe).
    While an attack runs with flood control turned off by the test (memory, log), chatd
    must parse everything the attackers send, so then every probe need only be answered
    (within 2 s; 10 s under a sanitizer): served, not starved;
  * it stays connected and receives what is sent to it;
  * chatd's CPU returns to idle after the attack (< 10 % of a core over a 1 s window,
    from utime+stime in /proc/PID/stat);
  * chatd's RSS stays within the memory budget plus a fixed overhead, and comes back
    down after the attackers leave (not checked with --sanitizer: sanitizers keep freed
    memory in quarantine, so RSS says nothing there; the test prints that it did not).

--sanitizer also runs the heavy attacks (memory, history, log) at 15 % of their
volume (--scale), so the suite stays within minutes on an ASan build; the memory test
then does not require the budget to have dropped anyone (the kernel's socket buffers take
most of the smaller volume). Figures for the record go to stderr ("[Test] ...").

Options that a test needs from the daemon of issue 10 (--memory-budget, --stall-timeout,
--flood-bytes-rate, ...) are passed as such: a chatd without them refuses to start and
the test fails saying so. Where an option only takes a different limit out of the way
(--flood-bytes-rate 0 so the log test measures the log, not the flood limit), it is
passed only if `chatd --help` lists it.
"""

import argparse
import json
import os
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chatd_harness import (MODERN_CAPS, Bystander, Chatd, ChildSender, Client,  # noqa: E402
                           Closed, brief, connect, frame, wait_until)
from py_client import decode_packets, send_packet  # noqa: E402  (the Part-1 peer, via chatd_harness' path)
from tls_peer import client_hello, verified_context  # noqa: E402  (the TLS peers, same path)

CONFIG = {"chatd": None, "chatctl": None, "event_loop": "select", "sanitizer": False,
          "latency": 0.050, "scale": 1.0, "probe_timeout": 2.0}


def scaled(n, floor=1):
    """n attack packets (or rooms), scaled down for slow (sanitizer) builds."""
    return max(floor, int(n * CONFIG["scale"]))

MIB = 1024 * 1024
DEFAULT_BUDGET = 256 * MIB  # --memory-budget's default (issue 10: "sized for a small VM")
RSS_OVERHEAD = 40 * MIB  # code, stacks, allocator slack: what RSS may exceed the budget by
IDLE_CPU = 0.10  # of one core, over a 1 s window
SPIKE = 5  # no single echo probe may take more than this many times the latency limit
BIG = 65000  # characters of text in a "65 KB" line


def line(i, size=BIG):
    """A chat line of `size` characters that says its number first."""
    head = "%04d " % i
    return head + "x" * (size - len(head))


class HostileTest(unittest.TestCase):
    """Shared set-up: start chatd, keep a list of problems and report them all at once
    (so one run tells everything that is wrong, not only the first thing)."""

    maxDiff = 2000

    def setUp(self):
        self.problems = []
        self.chatd = None
        self.to_close = []
        self.t0 = time.monotonic()

    def tearDown(self):
        for c in self.to_close:
            c.close()
        if self.chatd is not None:
            self.chatd.stop()
            if self.problems:
                sys.stderr.write("\n--- chatd stderr (tail) for %s ---\n%s\n"
                                 % (self.id(), self.chatd.log_tail(1500)))
            self.chatd.cleanup()
        sys.stderr.write("[%s: %.1f s]\n" % (type(self).__name__, time.monotonic() - self.t0))

    def start(self, *args, tls=False):
        self.chatd = Chatd(CONFIG["chatd"], CONFIG["chatctl"], CONFIG["event_loop"], args,
                           tls=tls)
        return self.chatd

    def optional(self, arg):
        """[arg] ("--flag=value") if this chatd knows the flag, else []."""
        return [arg] if Chatd.supports(CONFIG["chatd"], arg.split("=")[0]) else []

    def bystander(self, nick="watcher", source="127.0.0.9", **kw):
        b = Bystander(self.chatd.port, nick, source, **kw)
        self.to_close.append(b)
        return b

    def client(self, source, nick=None, caps=None, rcvbuf=None, join=True):
        c = Client(self.chatd.port, source, rcvbuf)
        self.to_close.append(c)
        if nick is not None:
            c.hello(nick, caps)
            if join:
                c.wait_joined()
        return c

    def child_sender(self, jobs):
        """Attack traffic written from a child process (see ChildSender)."""
        sender = ChildSender(jobs)
        self.addCleanup(sender.stop)
        return sender

    def note(self, text):
        """A figure for the record (stderr; ctest shows it with --output-on-failure or -V)."""
        sys.stderr.write("  [%s] %s\n" % (type(self).__name__, text))

    def problem(self, text):
        self.problems.append(text)

    def check(self, cond, text):
        if not cond:
            self.problem(text)
        return cond

    def check_latency(self, b, when, count=7, unlimited_input=False):
        """The median of `count` echo probes under the limit, and none over SPIKE times
        it: a machine shared with compilers delays single probes by tens of ms whatever
        chatd does, while a starved bystander is slow on every probe (or gets nothing).

        unlimited_input: the test turned flood control off, so the attackers make chatd
        parse all they can send (~100 MB); while that lasts the bystander must be served
        (every probe answered within the probe timeout, 2 s, 10 s under a sanitizer), not
        starved; the figures are recorded, not judged."""
        try:
            got = b.probe_many(count, timeout=CONFIG["probe_timeout"])
        except AssertionError as e:
            self.problem("%s: bystander probe failed: %s" % (when, e))
            return
        median, worst, limit = sorted(got)[len(got) // 2], max(got), CONFIG["latency"]
        self.note("%s: bystander latency median %.1f ms, worst %.1f ms"
                  % (when, median * 1000, worst * 1000))
        self.check(unlimited_input or (median < limit and worst < SPIKE * limit),
                   "%s: bystander echo latency median %.1f ms (limit %.0f), worst %.1f ms (limit "
                   "%.0f); probes: %s" % (when, median * 1000, limit * 1000, worst * 1000,
                                          SPIKE * limit * 1000,
                                          ", ".join("%.1f" % (x * 1000) for x in got)))

    def check_idle(self, when):
        if not self.chatd.alive():
            self.problem("%s: chatd is not running (exit %s)" % (when, self.chatd.proc.returncode))
            return
        ok, samples = self.chatd.wait_idle(IDLE_CPU)
        self.note("%s: chatd CPU %s of a core" % (when, ", ".join("%.1f %%" % (x * 100)
                                                               for x in samples)))
        self.check(ok, "%s: chatd CPU not back to idle: %s of a core over 1 s windows (limit %d %%)"
                   % (when, ", ".join("%.0f %%" % (s * 100) for s in samples), IDLE_CPU * 100))

    def check_bystander_intact(self, b, when):
        self.check(b.closed is None, "%s: bystander %s was dropped (%s); last seen %s"
                   % (when, b.nick, b.closed, b.tail()))
        errs = b.errors()
        self.check(not errs, "%s: bystander %s got errors %s" % (when, b.nick, brief(errs)))

    def check_rss(self, when, kib, limit_kib):
        self.note("%s: chatd RSS %.1f MiB (limit %.1f MiB)" % (when, kib / 1024, limit_kib / 1024))
        if CONFIG["sanitizer"]:
            sys.stderr.write("%s: RSS %d KiB, NOT checked under a sanitizer (limit %d KiB)\n"
                             % (when, kib, limit_kib))
            return
        self.check(kib <= limit_kib, "%s: chatd RSS %.1f MiB > %.1f MiB"
                   % (when, kib / 1024, limit_kib / 1024))

    def counters(self):
        """The "counters" object of `chatctl status --json`, or None (a problem) if absent."""
        try:
            st = self.chatd.status()
        except AssertionError as e:
            self.problem(str(e))
            return None
        c = st.get("counters")
        if not isinstance(c, dict):
            if getattr(self, "_no_counters", False):
                return None
            self._no_counters = True
            self.problem("chatctl status --json has no \"counters\" object (expected protocol_errors, "
                         "slow_consumers, refusals, budget_drops, stalls); keys: %s" % sorted(st))
            return None
        return c

    def finish(self):
        if self.chatd is not None and not self.chatd.alive():
            self.problem("chatd exited during the test (status %s)" % self.chatd.proc.returncode)
        if self.chatd is not None and self.chatd.alive():
            budget = next((int(a.split("=")[1]) for a in self.chatd.args
                           if a.startswith("--memory-budget=")), DEFAULT_BUDGET)
            self.check_rss("at the end", self.chatd.rss_kib(), (budget + RSS_OVERHEAD) // 1024)
        if self.problems:
            self.fail("\n  - " + "\n  - ".join(self.problems))


class OnePacket(HostileTest):
    """Item 1: one dm with a 65 490-byte `to`, and the operator's oversize kick and say."""

    def test_one_packet_does_not_stop_chatd(self):
        chatd = self.start()
        watcher = self.bystander()
        bob = self.client("127.0.0.4", "bob")
        mallory = self.client("127.0.0.2", "mallory", caps=[])
        mallory.send({"type": "dm", "to": "x" * 65490, "message": "m"})
        try:
            reply = mallory.wait_for(lambda p: p.get("type") == "error", 2.0, "error reply")
            self.check(len(frame(reply)) <= 65537, "error reply too big")
        except AssertionError as e:
            self.problem("attacker's dm with a 65 490-byte 'to' got no error reply: %s" % e)
        mallory.close()
        self.check_idle("after the oversize dm")
        self.check_latency(watcher, "after the oversize dm")

        code, out, err, secs = chatd.chatctl("kick", "bob", "r" * 65480, timeout=3.0)
        self.check(code not in (0, None, 75) and (out + err).strip(),
                   "chatctl kick bob <65 480-byte reason>: exit %s (want an error exit with a "
                   "message), %.1f s, output %r" % (code, secs, (out + err)[:200]))
        code, out, err, secs = chatd.chatctl("say", "s" * 65500, timeout=3.0)
        self.check(code not in (0, None, 75) and (out + err).strip(),
                   "chatctl say <65 500 bytes>: exit %s (want an error exit with a message), "
                   "%.1f s, output %r" % (code, secs, (out + err)[:200]))
        code, out, err, secs = chatd.chatctl("status", timeout=2.0)
        self.check(code == 0 and secs < 2.0, "chatctl status after the attacks: exit %s in %.1f s %s"
                   % (code, secs, err[:200]))
        self.check_idle("after the oversize kick and say")
        self.check_latency(watcher, "after the oversize kick and say")
        try:
            bob.send({"type": "chat", "message": "still here"})
            bob.wait_for(lambda p: p.get("type") == "chat" and p.get("message") == "still here",
                         2.0, "bob's own line")
        except (AssertionError, OSError) as e:
            self.problem("bob (the kick target) no longer served: %s" % e)
        self.check_bystander_intact(watcher, "one packet")
        self.finish()


class Memory(HostileTest):
    """Item 2: non-reading clients holding self-dms, then rooms full of history."""

    BUDGET = 64 * MIB
    OVERHEAD = RSS_OVERHEAD

    def test_memory_stays_within_budget_and_goes_back(self):
        # The per-session send queue is raised above what one attacker queues and flood
        # control is off, so that only the memory budget (or the stall timeout) can stop
        # the attackers: 10 x 200 x 65 KB is ~130 MB for clients that never read. The
        # kernel takes ~2.8 MB of it per connection (loopback, default tcp_wmem), so
        # chatd must hold ~100 MB, well past the 64 MiB budget, unless the budget drops
        # someone first: budget_drops >= 1 is required. The stall timeout (8 s) is long
        # enough for chatd to read all that, and then drops the hogs the budget left.
        full = CONFIG["scale"] >= 1.0
        chatd = self.start("--memory-budget=%d" % self.BUDGET, "--sendq-limit=%d" % (16 * MIB),
                           "--stall-timeout=%d" % (8 if full else 3), "--flood-rate=0",
                           "--flood-bytes-rate=0")
        watcher = self.bystander()
        time.sleep(0.2)
        idle_rss = chatd.rss_kib()
        self.note("idle RSS before the attacks: %.1f MiB" % (idle_rss / 1024))
        peak = [idle_rss]
        sampling = [True]

        def sample():
            while sampling[0] and chatd.alive():
                peak[0] = max(peak[0], chatd.rss_kib())
                time.sleep(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        hogs = [self.client("127.0.0.%d" % (2 + i), "hog%d" % i, caps=["dm"], rcvbuf=4096)
                for i in range(10)]

        sender = self.child_sender([(h.sock, b"".join(frame({"type": "dm", "to": h.nick,
                                                             "message": line(i)})
                                                      for i in range(scaled(200, 60))))
                                    for h in hogs])
        time.sleep(0.5)
        self.check_latency(watcher, "while 10 clients queue self-dms", unlimited_input=True)
        self.check(sender.wait(20), "the hogs' self-dms not all written (or refused) in 20 s")

        def users():
            code, out, _, _ = chatd.chatctl("--json", "who")
            return [u.get("nick") for u in json.loads(out).get("users", [])] if code == 0 else None

        gone = wait_until(lambda: not any(n.startswith("hog") for n in (users() or ["hog?"])),
                          14.0, 0.2)
        self.check(gone, "non-reading attackers still connected 14 s after their self-dms: %s"
                   % [n for n in (users() or []) if n.startswith("hog")])
        c = self.counters()
        if c is not None:
            self.note("after the self-dms: counters %s" % c)
            # At a reduced volume (sanitizer builds) the kernel's buffers take most of it
            # and the budget need not be reached; at least 60 dms (3.9 MB) per hog are
            # sent so that chatd holds something past the kernel's ~2.8 MB and the stall
            # rule has a queue to judge.
            self.check((c.get("budget_drops", 0) >= 1 or not full) and
                       c.get("budget_drops", 0) + c.get("stalls", 0) >= 10,
                       "counters budget_drops + stalls = %s + %s, want >= 1 + the rest of the 10 "
                       "hogs" % (c.get("budget_drops"), c.get("stalls")))
        for h in hogs:
            h.close()
        self.check_rss("self-dm attack (peak)", peak[0], self.BUDGET // 1024 + self.OVERHEAD // 1024)
        self.check_latency(watcher, "after the self-dm attack")

        # Phase 2: 100 rooms x 20 lines of 65 KB of history, then everyone leaves.
        writers = [self.client("127.0.0.%d" % (20 + i), "scribe%d" % i, caps=["rooms"])
                   for i in range(4)]
        failures = []

        def write(w, rooms):
            try:
                for r in rooms:
                    w.send({"type": "enter", "room": "heap%d" % r})
                    w.wait_for(lambda p: p.get("type") == "join" and p.get("nick") == w.nick
                               and p.get("room") == "heap%d" % r, 5.0, "own join in heap%d" % r)
                    w.send_raw(b"".join(frame({"type": "chat", "message": line(i)})
                                        for i in range(20)))
                    for i in range(20):
                        w.wait_for(lambda p: p.get("type") == "chat" and p.get("nick") == w.nick,
                                   5.0, "echo %d in heap%d" % (i, r))
            except (AssertionError, OSError) as e:
                if w.closed or isinstance(e, OSError):
                    # Dropping a writer that fills rooms is the daemon's right (it is the
                    # attacker); what matters is RSS and the bystander.
                    sys.stderr.write("history writer %s dropped: %s\n" % (w.nick, str(e)[:200]))
                else:
                    failures.append(str(e))

        threads = [threading.Thread(target=write, args=(w, range(k, scaled(100, 4), 4)),
                                    daemon=True)
                   for k, w in enumerate(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        self.check(not failures, "history writers: %s" % failures[:3])
        for w in writers:
            w.close()
        emptied = wait_until(lambda: (users() or ["?", "?"]) == ["watcher"], 5.0, 0.1)
        self.check(emptied, "writers still listed 5 s after leaving: %s" % users())
        sampling[0] = False
        sampler.join()
        self.check_rss("history rooms (peak)", peak[0], self.BUDGET // 1024 + self.OVERHEAD // 1024)
        back = wait_until(lambda: chatd.rss_kib() <= idle_rss + 30 * 1024, 3.0, 0.1)
        if not back:
            self.check_rss("after every attacker left (idle before: %.1f MiB)" % (idle_rss / 1024),
                           chatd.rss_kib(), idle_rss + 30 * 1024)
        self.check_idle("after the memory attacks")
        self.check_latency(watcher, "after the memory attacks")
        self.check_bystander_intact(watcher, "memory")
        self.finish()


class ByteFlood(HostileTest):
    """Item 3: 150 x 65 KB lines in one burst into a room with a modest reader."""

    def test_byte_flood_drops_the_flooder_not_the_reader(self):
        chatd = self.start()
        reader = self.bystander("reader", "127.0.0.3", rate=2_000_000, rcvbuf=256 * 1024)
        watcher = self.bystander()
        # The flooder reads its own echoes all along (a thread), so that only a flood rule
        # can be the reason it is closed.
        flooder = self.bystander("flooder", "127.0.0.2")
        data = b"".join(frame({"type": "chat", "message": line(i)}) for i in range(150))

        sender = self.child_sender([(flooder.sock, data)])
        time.sleep(0.2)
        self.check_latency(watcher, "during the byte flood")
        flooder_closed = wait_until(lambda: flooder.closed is not None, 5.0)
        if self.check(flooder_closed,
                      "flooder not closed 5 s after sending 150 x 65 KB at once; last seen %s"
                      % flooder.tail()):
            errs = [p.get("code") for p in flooder.errors()]
            self.check("flood" in errs, "flooder closed (%s) without error flood (errors: %s)"
                       % (flooder.closed, errs))
        sender.wait(5)
        try:
            if flooder_closed:  # then everything the reader is owed ends with leave(flooder)
                reader.wait(lambda p: p.get("type") == "leave" and p.get("nick") == "flooder",
                            10.0, "leave(flooder)")
        except AssertionError as e:
            self.problem(str(e))
        lines = [p.get("message", "")[:4] for p in reader.received(
            lambda p: p.get("type") == "chat" and p.get("nick") == "flooder")]
        self.note("the 2 MB/s reader got %d of the flooder's 150 lines; flooder closed: %s, "
                  "errors %s" % (len(lines), flooder.closed, [p.get("code") for p in flooder.errors()]))
        self.check(lines == ["%04d" % i for i in range(len(lines))],
                   "reader did not get the flooder's lines in order without a gap: %s" % lines[:20])
        self.check_idle("after the byte flood")
        self.check_latency(watcher, "after the byte flood")
        try:
            reader.probe()
        except AssertionError as e:
            self.problem("reader's own line after the flood: %s" % e)
        self.check_bystander_intact(reader, "byte flood")
        self.check_bystander_intact(watcher, "byte flood")
        self.finish()


class HistoryReplay(HostileTest):
    """Item 4: --history 200 of 65 KB lines, then 5 newcomers."""

    def test_history_replay_fits_the_newcomers(self):
        self.start("--history=200", "--flood-rate=0", *self.optional("--flood-bytes-rate=0"))
        watcher = self.bystander()
        filler = self.client("127.0.0.2", "filler", caps=[])
        # Sent from a thread while this one reads the echoes, so the filler is never a
        # slow reader itself.
        lines = scaled(200, 100)
        data = b"".join(frame({"type": "chat", "message": line(i)}) for i in range(lines))
        sender = threading.Thread(target=filler.send_raw, args=(data,), daemon=True)
        sender.start()
        try:
            for i in range(lines):
                filler.wait_for(lambda p: p.get("type") == "chat" and p.get("nick") == "filler",
                                10.0, "echo %d" % i)
        except AssertionError as e:
            self.problem("filler: %s" % e)
        sender.join(timeout=5)
        filler.close()
        newcomers = [self.client("127.0.0.%d" % (3 + i)) for i in range(5)]
        for i, n in enumerate(newcomers):
            n.hello("new%d" % i, MODERN_CAPS)
        expected_last = "%04d" % (lines - 1)
        for n in newcomers:
            try:
                n.wait_joined(10.0)
            except AssertionError as e:
                self.problem("newcomer %s: %s" % (n.nick, e))
                continue
            replay = [p for p in n.seen if p.get("history")]
            # A newcomer served after another's line also gets that line: only the
            # filler's lines are checked for order and gaps.
            heads = [p.get("message", "")[:4] for p in replay if p.get("nick") == "filler"]
            size = sum(len(frame(p)) for p in replay)
            self.note("newcomer %s: replay of %d lines, %d bytes" % (n.nick, len(replay), size))
            ok = bool(heads) and heads[-1] == expected_last and heads == [
                "%04d" % i for i in range(int(heads[0]), lines)]
            self.check(ok, "newcomer %s: replay is not the filler's newest lines, in order, without "
                       "a gap: %d lines %s..%s (%d lines in all)"
                       % (n.nick, len(heads), heads[:1], heads[-1:], len(replay)))
            self.check(size <= 4 * MIB, "newcomer %s: replay of %d bytes exceeds the send queue"
                       % (n.nick, size))
            try:
                n.send({"type": "chat", "message": "hi from " + n.nick})
                n.wait_for(lambda p: p.get("type") == "chat" and p.get("nick") == n.nick, 5.0,
                           "own line")
            except (AssertionError, OSError) as e:
                self.problem("newcomer %s after the replay: %s" % (n.nick, e))
        self.check_idle("after the replays")
        self.check_latency(watcher, "after the replays")
        self.check_bystander_intact(watcher, "history replay")
        self.finish()


class PerAddress(HostileTest):
    """Item 5: 1 000 connections from one address without hello."""

    def test_one_address_cannot_take_every_slot(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 2048:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
        total = min(1000, resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 100)
        if total < 1000:
            sys.stderr.write("PerAddress: descriptor limit %d: %d connections instead of 1 000\n"
                             % (hard, total))
        self.start()
        watcher = self.bystander()
        socks = []
        sel = selectors.DefaultSelector()
        for _ in range(total):
            s = connect(self.chatd.port, "127.0.0.2", blocking=False)
            socks.append(s)
            sel.register(s, selectors.EVENT_READ, [b""])
        try:
            self.check_latency(watcher, "while 1 000 connections from one address are open")
            refused = closed_silently = 0
            open_socks = set(socks)

            def settle(deadline):
                nonlocal refused, closed_silently
                while open_socks and time.monotonic() < deadline:
                    for key, _ in sel.select(0.1):
                        s, buf = key.fileobj, key.data
                        try:
                            data = s.recv(4096)
                        except (BlockingIOError, InterruptedError):
                            continue
                        except OSError:
                            data = b""
                        if data:
                            buf[0] += data
                            continue
                        sel.unregister(s)
                        open_socks.discard(s)
                        if b'"server-full"' in buf[0]:
                            refused += 1
                        else:
                            closed_silently += 1
                    if len(open_socks) <= 16:
                        # The rest should be refused at once; a short grace for stragglers.
                        deadline = min(deadline, time.monotonic() + 0.3)

            settle(time.monotonic() + 4.0)
            self.note("%d connections from 127.0.0.2: %d open, %d refused with server-full, %d "
                      "closed without it" % (total, len(open_socks), refused, closed_silently))
            self.check(len(open_socks) <= 16,
                       "%d of %d connections from 127.0.0.2 still open (want <= 16 by the default "
                       "--max-per-address); %d refused with server-full, %d closed without it"
                       % (len(open_socks), total, refused, closed_silently))
            self.check(refused >= total - 16 - closed_silently and refused > 0,
                       "only %d refused with server-full" % refused)
            try:
                other = self.client("127.0.0.3", "newcomer")
                other.send({"type": "chat", "message": "made it"})
                other.wait_for(lambda p: p.get("type") == "chat" and p.get("message") == "made it",
                               2.0, "own line")
            except AssertionError as e:
                self.problem("a client from 127.0.0.3 cannot join while 127.0.0.2 holds its "
                             "connections: %s" % e)
            self.check_latency(watcher, "after the per-address attack")
            self.check_idle("with 1 000 connections from one address attempted")
            self.check_bystander_intact(watcher, "per address")
        finally:
            sel.close()
            for s in socks:
                s.close()
        self.finish()


class LogAmplification(HostileTest):
    """Item 6: legacy clients sending bad packets with 65 KB of text."""

    def test_bad_packets_do_not_flood_the_log(self):
        # Packet and byte flood control off: the log and the counters are what is measured.
        self.start("--log-level=info", "--flood-rate=0", *self.optional("--flood-bytes-rate=0"))
        watcher = self.bystander()
        before = self.counters()
        log0 = self.chatd.log_bytes()
        loud = [self.client("127.0.0.%d" % (2 + i), "loud%d" % i) for i in range(5)]
        # Two kinds of bad packet, 100 of each per client: a chat with a control character
        # (bad-message) and a dm to a 65 000-character nick (today's no-such-nick error
        # copies that nick into a WARNING line).
        per_client = scaled(200, 20)
        bad = b"".join(frame({"type": "chat", "message": "\x01" + line(i)}) if i % 2 else
                       frame({"type": "dm", "to": line(i), "message": "m"})
                       for i in range(per_client))

        sender = self.child_sender([(c.sock, bad) for c in loud])
        time.sleep(0.2)
        self.check_latency(watcher, "during the bad packets", unlimited_input=True)
        self.check(sender.wait(20), "the bad packets not all written (or refused) in 20 s")
        # Every bad packet has been read when each sender's own next line comes back (or
        # when chatd has closed the sender: closing on a bad packet is allowed).
        still_open = 0
        for c in loud:
            try:
                c.send({"type": "chat", "message": "done " + c.nick})
                c.wait_for(lambda p: p.get("type") == "chat" and p.get("message") == "done " + c.nick,
                           10.0, "own line after the bad packets")
                still_open += 1
            except OSError:
                pass
            except AssertionError as e:
                if not c.closed:
                    self.problem("%s: %s" % (c.nick, e))
        written = self.chatd.log_bytes() - log0
        self.note("log written for %d bad packets: %d bytes" % (5 * per_client, written))
        self.check(written < 1_000_000, "chatd wrote %.1f MB of log for %d bad packets "
                   "(limit 1 MB)" % (written / 1e6, 5 * per_client))
        after = self.counters()
        if before is not None and after is not None:
            grew = after.get("protocol_errors", 0) - before.get("protocol_errors", 0)
            self.note("counters.protocol_errors grew by %d (%d of 5 senders still open)"
                      % (grew, still_open))
            # 200 per sender that stayed open, at least one per sender that was closed.
            want = per_client * still_open + (len(loud) - still_open)
            self.check(grew >= want, "counters.protocol_errors grew by %d, want >= %d (%d of 5 "
                       "senders stayed open; counters: %s)" % (grew, want, still_open, after))
        self.check_idle("after the bad packets")
        self.check_latency(watcher, "after the bad packets")
        self.check_bystander_intact(watcher, "log amplification")
        self.finish()


class Stall(HostileTest):
    """Item 2 (stall): a client that never reads while room traffic flows to it."""

    def sendq_of(self, nick):
        code, out, _, _ = self.chatd.chatctl("--json", "who")
        if code != 0:
            return None
        return next((u.get("sendq_bytes") for u in json.loads(out).get("users", [])
                     if u.get("nick") == nick), None)

    def test_non_reader_is_dropped_after_the_stall_timeout(self):
        self.start("--stall-timeout=2")
        watcher = self.bystander()
        talkers = [self.bystander("talker%d" % i, "127.0.0.%d" % (3 + i)) for i in range(6)]
        sleepy = self.client("127.0.0.2", "sleepy", rcvbuf=4096)  # reads its join, then never
        # The kernel takes a few MB for a non-reader before chatd holds anything (about
        # 2.8 MB on loopback with Linux's default tcp_wmem): first fill that, 30 KB lines
        # from 6 talkers, each under the byte burst (1 MiB) and packet burst, until chatd
        # reports a send queue for sleepy. Then a steady trickle of 8 KB lines, 6 a second,
        # far from the 4 MiB send queue limit: only a stall rule can drop sleepy.
        sent = [0] * len(talkers)
        t0 = time.monotonic()
        queued_at = dropped_at = None

        volume = [0]

        def say(k, size):
            talkers[k].send({"type": "chat", "message": line(sent[k], size)})
            sent[k] += 1
            volume[0] += size

        def dropped():
            return watcher.received(lambda p: p.get("type") == "leave" and p.get("nick") == "sleepy")

        n = 0
        while queued_at is None and n < 30 * len(talkers) and not dropped():
            say(n % len(talkers), 30000)
            n += 1
            time.sleep(0.004)
            if n % 6 == 0 and (self.sendq_of("sleepy") or 0) > 0:
                queued_at = time.monotonic()
        if queued_at is None:
            self.problem("sleepy dropped while the kernel's buffers were still filling (%.1f MB "
                         "sent), before chatd held anything for it: not a stall" % (volume[0] / 1e6)
                         if dropped() else
                         "chatd holds nothing for a non-reader after %.1f MB were sent to it"
                         % (volume[0] / 1e6))
            self.finish()
        while time.monotonic() - t0 < 9.0:
            if dropped():
                dropped_at = time.monotonic()
                break
            say(n % len(talkers), 8000)
            n += 1
            time.sleep(1 / 6)
        if self.check(dropped_at is not None,
                      "a client that never reads was not dropped within 9 s (--stall-timeout 2; "
                      "%.1f MB sent to it, chatd's queue for it non-empty for the last %.1f s)"
                      % (volume[0] / 1e6, time.monotonic() - queued_at)):
            self.note("sleepy dropped %.2f s after chatd began to hold data for it (%.1f MB sent)"
                      % (dropped_at - queued_at, volume[0] / 1e6))
            self.check(dropped_at - queued_at >= 1.5,
                       "sleepy dropped %.2f s after chatd began to hold data for it, before "
                       "a 2 s stall timeout could have passed" % (dropped_at - queued_at))
        for k, t in enumerate(talkers):
            try:
                watcher.wait(lambda p: p.get("type") == "chat" and p.get("nick") == t.nick
                             and p.get("message", "").startswith("%04d" % (sent[k] - 1)), 5.0,
                             "last line of " + t.nick)
            except AssertionError as e:
                self.problem(str(e))
            heads = [p["message"][:4] for p in watcher.received(
                lambda p: p.get("type") == "chat" and p.get("nick") == t.nick)]
            self.check(heads == ["%04d" % i for i in range(sent[k])],
                       "watcher got %d of %s's %d lines (or out of order)"
                       % (len(heads), t.nick, sent[k]))
        self.check_idle("after the stall")
        self.check_latency(watcher, "after the stall")
        self.check_bystander_intact(watcher, "stall")
        for t in talkers:
            self.check_bystander_intact(t, "stall")
        self.finish()


class CausalOrder(HostileTest):
    """Item 11: alice's hello, written before bob connected, is served before bob's."""

    def test_earlier_hello_is_served_first(self):
        self.start()
        wrong = []
        for i in range(30):
            a = connect(self.chatd.port, "127.0.0.2")
            send_packet(a, {"type": "hello", "nick": "alice%d" % i})
            b = connect(self.chatd.port, "127.0.0.3")
            send_packet(b, {"type": "hello", "nick": "bob%d" % i})
            alice, bob = Client(0, sock=a), Client(0, sock=b)
            alice.nick, bob.nick = "alice%d" % i, "bob%d" % i
            outcome = None
            deadline = time.monotonic() + 3.0
            try:
                while outcome is None and time.monotonic() < deadline:
                    p = alice.recv(0.005)
                    if p and p.get("type") == "join" and p.get("nick") == bob.nick:
                        outcome = "ok"
                    q = bob.recv(0.005)
                    if q and q.get("type") == "join" and q.get("nick") == alice.nick:
                        outcome = "bob first"
            except Closed as e:
                outcome = "closed: %s" % e
            if outcome != "ok":
                wrong.append("%d: %s" % (i, outcome or "no join either way in 3 s"))
            alice.close()
            bob.close()
        self.note("%d of 30 rounds served bob's hello first" % len(wrong))
        self.check(not wrong, "%d of 30 rounds served bob's hello before alice's: %s"
                   % (len(wrong), wrong[:5]))
        self.finish()


class Spoofing(HostileTest):
    """Item 7: look-alike nicks and rooms."""

    LOOKALIKES = ["p\u0430t", "p\u200bat", "pat\u200d", "\uff50\uff41\uff54", "\uff0a\uff0a\uff0a",
                  "pat\u2800->\u2800chris", "\u202epat"]

    def test_lookalike_nicks_and_rooms_are_refused(self):
        self.start()
        self.client("127.0.0.2", "pat")
        for nick in self.LOOKALIKES:
            c = Client(self.chatd.port, "127.0.0.3")
            send_packet(c.sock, {"type": "hello", "nick": nick})
            try:
                got = c.read_until_closed(1.5)
                codes = [p.get("code") for p in got if p.get("type") == "error"]
                self.check(any(x in ("nick-taken", "nick-invalid") for x in codes),
                           "hello %r closed without nick-taken/nick-invalid: %s" % (nick, brief(got)))
            except AssertionError:
                self.problem("hello %r accepted while pat is connected (got %s)"
                             % (nick, brief(c.seen[:2])))
            c.close()
        roomer = self.client("127.0.0.4", "roomer", caps=["rooms"])
        roomer.send({"type": "enter", "room": "lobby\u200b"})
        roomer.send({"type": "rooms"})
        try:
            p = roomer.wait_for(lambda p: p.get("type") == "rooms", 3.0, "rooms")
            names = [r.get("name") for r in p.get("rooms", [])]
            self.check(names == ["lobby"], "rooms after entering 'lobby\\u200b': %r" % names)
        except AssertionError as e:
            self.problem(str(e))
        self.finish()


def tls_join(port, cert, nick, source="127.0.0.7", timeout=5.0):
    """A TLS client that verifies chatd's certificate, says hello and reads its own join;
    returns the TLS socket."""
    sock = connect(port, source)
    try:
        sock.settimeout(timeout)
        sock = verified_context(cert).wrap_socket(sock, server_hostname="localhost")
        sock.sendall(frame({"type": "hello", "nick": nick}))
        buf, deadline = b"", time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = sock.recv(65536)
            if not data:
                raise AssertionError("TLS client %s: closed before its join" % nick)
            packets, buf = decode_packets(buf + data)
            if any(p.get("type") == "join" and p.get("nick") == nick for p in packets):
                return sock
        raise AssertionError("TLS client %s: no join within %.0f s" % (nick, timeout))
    except BaseException:
        sock.close()
        raise


# Full TLS handshakes in a loop from one address, as fast as one process can: prints
# how many completed. argv: port seconds source.
HANDSHAKE_LOOP = """
import socket, ssl, sys, time
port, seconds, source = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
done, end = 0, time.monotonic() + seconds
while time.monotonic() < end:
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", port))
        t = ctx.wrap_socket(s, server_hostname="localhost")
        done += 1
        t.close()
    except OSError:
        s.close()
print(done)
"""


class TlsAttacks(HostileTest):
    """The TLS listener under attack: handshakes that stall or are garbage, a handshake
    flood, renegotiation. chatd serves a plain bystander all along and a TLS client after."""

    HELLO_TIMEOUT = 2.0

    def check_after(self, watcher, attack):
        """After an attack: chatd idle, the bystander answered and intact, and a new
        TLS client (verifying the certificate) can join."""
        when = "after the " + attack
        self.check_idle(when)
        self.check_latency(watcher, when)
        try:
            tls_join(self.chatd.tls_port, self.chatd.cert_path, "tlsafter").close()
        except (AssertionError, OSError) as e:
            self.problem("%s: a TLS client could not join: %s" % (when, e))
        self.check_bystander_intact(watcher, attack)

    def test_stalled_and_garbage_handshakes_are_closed_and_cost_nobody(self):
        self.start("--hello-timeout=%g" % self.HELLO_TIMEOUT, tls=True)
        watcher = self.bystander()
        hello = client_hello()
        attackers = []  # (kind, socket); 12 per source address (the limit is 16)
        kinds = [("silent", b"")] * 60 + [("half a ClientHello", hello[:len(hello) // 2])] * 40 \
            + [("a ClientHello, then silence", hello)] * 20
        for i, (kind, data) in enumerate(kinds):
            s = connect(self.chatd.tls_port, "127.0.0.%d" % (20 + i // 12))
            if data:
                s.sendall(data)
            attackers.append((kind, s))
        garbage = [connect(self.chatd.tls_port, "127.0.0.%d" % (40 + i // 12)) for i in range(24)]
        sender = self.child_sender([(g, os.urandom(65536)) for g in garbage])
        t0 = time.monotonic()
        self.check_latency(watcher, "during %d stalled handshakes and %d garbage senders"
                           % (len(attackers), len(garbage)))
        sender.wait(5.0)
        late = []
        for kind, s in attackers + [("garbage", g) for g in garbage]:
            s.settimeout(max(0.1, t0 + self.HELLO_TIMEOUT + 3.0 - time.monotonic()))
            try:
                while s.recv(65536):
                    pass  # a TLS alert, then the end
            except socket.timeout:
                late.append(kind)
            except OSError:
                pass  # reset: closed
            s.close()
        self.note("%d stalled and %d garbage connections closed %.1f s after the attack began"
                  % (len(attackers) - sum(k != "garbage" for k in late), len(garbage),
                     time.monotonic() - t0))
        self.check(not late, "%d connections still open %.0f s after the hello timeout (%g s): %s"
                   % (len(late), 3.0, self.HELLO_TIMEOUT, sorted(set(late))))
        st = self.chatd.status()
        self.check(st.get("tls_clients") == 0 and st.get("clients") == 1,
                   "after the attack chatctl status counts %s TLS clients and %s clients in all "
                   "(the watcher alone should be left)" % (st.get("tls_clients"), st.get("clients")))
        self.check_after(watcher, "TLS attack")
        self.finish()

    def test_handshake_flood_from_one_address_leaves_others_served(self):
        self.start(tls=True)
        watcher = self.bystander()
        seconds = 3.0
        cpu0 = self.chatd.cpu_seconds()
        flood = subprocess.Popen([sys.executable, "-c", HANDSHAKE_LOOP, str(self.chatd.tls_port),
                                  str(seconds), "127.0.0.2"], stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: flood.poll() is None and flood.kill())
        time.sleep(0.3)
        self.check_latency(watcher, "during a handshake flood")
        out, _ = flood.communicate(timeout=seconds + 30)
        cpu = self.chatd.cpu_seconds() - cpu0
        done = int(out.strip() or 0)
        self.note("%d full handshakes from one address in %.0f s; chatd CPU %.2f s (%.0f us each)"
                  % (done, seconds, cpu, cpu / max(done, 1) * 1e6))
        self.check(done > 0, "the handshake flood completed no handshake: the TLS listener "
                   "did not answer")
        self.check_after(watcher, "handshake flood")
        self.finish()

    def test_renegotiation_is_refused(self):
        self.start(tls=True)
        watcher = self.bystander()
        # s_client's "R" line asks for a TLS 1.2 renegotiation.
        proc = subprocess.Popen(["openssl", "s_client", "-tls1_2", "-connect",
                                 "127.0.0.1:%d" % self.chatd.tls_port], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        time.sleep(1.0)
        try:
            out, _ = proc.communicate(b"R\n", timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            self.problem("openssl s_client still connected 10 s after asking to renegotiate")
        text = out.decode("utf-8", "replace")
        self.check("TLSv1.2" in text, "s_client did not complete a TLS 1.2 handshake: %s"
                   % text[-500:])
        self.check("no renegotiation" in text,
                   "renegotiation was not refused (no 'no renegotiation' alert): %s" % text[-500:])
        self.check_after(watcher, "renegotiation attempt")
        self.finish()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chatd", required=True)
    parser.add_argument("--chatctl", required=True)
    parser.add_argument("--event-loop", default="select", choices=["select", "epoll"])
    parser.add_argument("--sanitizer", action="store_true",
                        help="sanitizer build: latency default 250 ms, RSS not checked, heavy "
                        "attacks at 15 %% of their volume")
    parser.add_argument("--latency-ms", type=float, default=None)
    parser.add_argument("--scale", type=float, default=None,
                        help="volume of the heavy attacks (default 1, 0.15 with --sanitizer)")
    args, rest = parser.parse_known_args()
    CONFIG.update(chatd=args.chatd, chatctl=args.chatctl, event_loop=args.event_loop,
                  sanitizer=args.sanitizer,
                  scale=args.scale if args.scale is not None else (0.15 if args.sanitizer else 1.0),
                  probe_timeout=10.0 if args.sanitizer else 2.0)
    ms = args.latency_ms if args.latency_ms is not None else (250 if args.sanitizer else 50)
    CONFIG["latency"] = ms / 1000
    unittest.main(module=__name__, argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
