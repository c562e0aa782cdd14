#!/usr/bin/env python3
"""Chat clients against the packaged chatd, run inside the nspawn test container.

chat_e2e.py chat PORT   two clients join, chat and leave; chatctl who lists them;
                        systemctl status chatd shows the STATUS= line; chat_client
                        (plain mode) is seen by the others.
chat_e2e.py ping PORT   one client joins and sees its own join (the server answers).
chat_e2e.py control PORT
                        a client stays joined while chatctl is used as hard as an
                        operator could (commands, 16 trickling control connections
                        during which root's chatctl status still answers, a reload)
                        and is still connected and served afterwards.
chat_e2e.py refused PORT
                        (chatd's config is broken) a connection is accepted and
                        closed, not refused: the port stays open.
Every wait has a deadline; exit status 1 names the step that failed.
"""
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time

WAIT_S = 10.0


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def ok(msg):
    print(f"ok: {msg}", flush=True)


class Client:
    def __init__(self, nick, port):
        self.nick = nick
        self.buf = b""
        self.seen = []
        try:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT_S)
        except OSError as e:
            fail(f"{nick}: connect to 127.0.0.1:{port}: {e}")

    def send(self, obj):
        payload = json.dumps(obj).encode()
        self.sock.sendall(struct.pack(">H", len(payload)) + payload)

    def hello(self):
        self.send({"type": "hello", "nick": self.nick})

    def chat(self, message):
        self.send({"type": "chat", "message": message})

    def _next_packet(self, deadline):
        while True:
            if len(self.buf) >= 2:
                (n,) = struct.unpack(">H", self.buf[:2])
                if len(self.buf) >= 2 + n:
                    payload, self.buf = self.buf[2 : 2 + n], self.buf[2 + n :]
                    return json.loads(payload)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not data:
                return None
            self.buf += data

    def expect(self, **want):
        """Reads packets until one has every member of `want`; fails at the deadline."""
        deadline = time.monotonic() + WAIT_S
        while True:
            pkt = self._next_packet(deadline)
            if pkt is None:
                fail(f"{self.nick} did not receive {want}; got {self.seen}")
            self.seen.append(pkt)
            if all(pkt.get(k) == v for k, v in want.items()):
                return pkt

    def close(self):
        self.sock.close()


def run(cmd, timeout=WAIT_S, stdin_text=""):
    try:
        return subprocess.run(cmd, input=stdin_text, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        fail(f"{' '.join(cmd)} did not finish in {timeout} s")


def poll(what, check, timeout=WAIT_S):
    """Calls check() until it returns a true value; fails at the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last and last[0]:
            return last
        time.sleep(0.2)
    fail(f"{what}; last: {last[1] if last else None}")


def scenario_chat(port):
    alice = Client("alice", port)
    alice.hello()
    alice.expect(type="join", nick="alice")
    bob = Client("bob", port)
    bob.hello()
    bob.expect(type="join", nick="bob")
    alice.expect(type="join", nick="bob")
    ok("alice and bob joined; each saw bob's join")

    alice.chat("hello bob")
    for c in (alice, bob):
        c.expect(type="chat", nick="alice", message="hello bob")
    bob.chat("hi alice \u00e9\u4e16")
    for c in (alice, bob):
        c.expect(type="chat", nick="bob", message="hi alice \u00e9\u4e16")
    ok("chat lines reached both clients, the sender included")

    if shutil.which("chatctl"):
        def who():
            r = run(["chatctl", "who"])
            return (r.returncode == 0 and "alice" in r.stdout and "bob" in r.stdout, r)
        r = poll("chatctl who lists alice and bob", who)[1]
        print(r.stdout.rstrip(), flush=True)
        r = run(["chatctl", "--json", "who"])
        nicks = sorted(u.get("nick") for u in json.loads(r.stdout).get("users", []))
        if nicks != ["alice", "bob"]:
            fail(f"chatctl --json who: users {nicks}")
        ok("chatctl who and chatctl --json who list alice and bob")
    else:
        print("skip: chatctl is not installed", flush=True)

    def status():
        r = run(["systemctl", "status", "--no-pager", "chatd.service"])
        line = next((l.strip() for l in r.stdout.splitlines() if l.strip().startswith("Status:")), "")
        return ("2 clients" in line, line or r.stdout)
    line = poll('systemctl status chatd shows Status: "2 clients ..."', status)[1]
    print(line, flush=True)
    ok("systemctl status chatd shows the STATUS= line")

    if shutil.which("chat_client"):
        # Plain mode (stdin is not a terminal): one line sent, then end of input.
        proc = run(["chat_client", "dave", "127.0.0.1", str(port)], timeout=15,
                   stdin_text="line from chat_client\n")
        alice.expect(type="join", nick="dave")
        alice.expect(type="chat", nick="dave", message="line from chat_client")
        alice.expect(type="leave", nick="dave")
        if proc.returncode != 0:
            fail(f"chat_client exited {proc.returncode}: {proc.stderr}")
        if "dave: line from chat_client" not in proc.stdout:
            fail(f"chat_client printed {proc.stdout!r}")
        ok("chat_client (plain mode) joined, chatted, printed its echo and left")
    else:
        print("skip: chat_client is not installed", flush=True)

    bob.close()
    alice.expect(type="leave", nick="bob")
    ok("alice saw bob leave")
    alice.close()


def scenario_ping(port):
    nick = f"ping{os.getpid() % 10000}"
    c = Client(nick, port)
    c.hello()
    c.expect(type="join", nick=nick)
    c.close()
    ok(f"{nick} joined on port {port}")


def scenario_control(port):
    stayer = Client("stayer", port)
    stayer.hello()
    stayer.expect(type="join", nick="stayer")
    for cmd in (["status"], ["who"], ["version"], ["kick", "nobody-here"]) * 5:
        r = run(["chatctl", *cmd])
        if r.returncode not in (0, 1):
            fail(f"chatctl {' '.join(cmd)} exited {r.returncode}: {r.stderr}")
    ok("20 chatctl commands answered")
    # Sixteen control connections that trickle a byte: root still gets in.
    slow = []
    for _ in range(16):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect("/run/chatd/chatd.ctl")
        s.send(b"\x01")
        slow.append(s)
    t0 = time.monotonic()
    r = run(["chatctl", "--timeout", "3", "status"])
    took = time.monotonic() - t0
    if r.returncode != 0:
        fail(f"root's chatctl status with 16 trickling connections exited {r.returncode}: {r.stderr}")
    ok(f"root's chatctl status answered in {took:.2f} s while 16 control connections trickled")
    # Their deadline is absolute: gone within the request timeout (5 s) however they trickle.
    deadline = time.monotonic() + 8
    closed = 0
    while slow and time.monotonic() < deadline:
        for s in list(slow):
            s.setblocking(False)
            try:
                s.send(b"\x01")
                if s.recv(1) == b"":
                    raise ConnectionResetError
            except BlockingIOError:
                pass
            except OSError:
                slow.remove(s)
                s.close()
                closed += 1
        time.sleep(0.5)
    if slow:
        fail(f"{len(slow)} trickling control connections still open after 8 s")
    ok(f"chatd closed all {closed} trickling control connections at their deadline")
    r = run(["systemctl", "reload", "chatd.service"])
    if r.returncode != 0:
        fail(f"systemctl reload: {r.stderr}")
    # The stayer is still there and served.
    other = Client("other", port)
    other.hello()
    stayer.expect(type="join", nick="other")
    other.close()
    stayer.close()
    ok("the chat user stayed connected through every control-socket operation")


def scenario_refused(port):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=WAIT_S)
    except OSError as e:
        fail(f"connect to 127.0.0.1:{port} with a broken config: {e} (the port must stay open)")
    s.settimeout(WAIT_S)
    try:
        data = s.recv(1)
    except socket.timeout:
        fail("chatd with a broken config neither served nor closed the connection")
    except ConnectionResetError:
        data = b""
    s.close()
    if data:
        fail("chatd served a client with a broken config")
    ok(f"port {port} accepted the connection and closed it (config broken)")


SCENARIOS = {"chat": scenario_chat, "ping": scenario_ping, "control": scenario_control,
             "refused": scenario_refused}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in SCENARIOS:
        print(__doc__, file=sys.stderr)
        sys.exit(64)
    port = int(sys.argv[2])
    SCENARIOS[sys.argv[1]](port)


if __name__ == "__main__":
    main()
