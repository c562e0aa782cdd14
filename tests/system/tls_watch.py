#!/usr/bin/env python3
"""Joins chatd's plain port as WATCHER, prints "joined", then waits (bounded) for a
chat line from NICK saying TEXT: proof that a TLS client reached plain ones.
Usage: tls_watch.py PORT WATCHER NICK TEXT"""
import json
import socket
import struct
import sys
import time

port, watcher, nick, text = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
body = json.dumps({"type": "hello", "nick": watcher}).encode()
s.sendall(struct.pack(">H", len(body)) + body)
print("joined", flush=True)
buf = b""
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    s.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        chunk = s.recv(65536)
    except socket.timeout:
        break
    if not chunk:
        break
    buf += chunk
    while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
        n = struct.unpack(">H", buf[:2])[0]
        packet, buf = json.loads(buf[2:2 + n]), buf[2 + n:]
        if packet.get("type") == "chat" and packet.get("nick") == nick and \
                packet.get("message") == text:
            print("received", flush=True)
            sys.exit(0)
print("no chat from %s saying %r within 30 s" % (nick, text), file=sys.stderr)
sys.exit(1)
