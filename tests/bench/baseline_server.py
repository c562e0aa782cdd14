#!/usr/bin/env python3
"""A naive chat server written only from the course text, as the bench's baseline.

PROTOCOL.md part 1 as a student would write it from the course: select() over the
listening socket and the clients, a per-client input buffer in a dict keyed by the
socket, one json.dumps per broadcast and one blocking sendall() per recipient.
Usage: baseline_server.py PORT   (PORT 0 picks a free port; the first line on
stdout is "port=N"). It listens on 127.0.0.1 only.
"""

import json
import select
import socket
import sys

# select() cannot watch descriptors >= FD_SETSIZE (1024); the course does not say
# what to do past it, so connections that would get such a descriptor are closed
# instead of crashing the server.
FD_LIMIT = 1020


def frame(obj):
    payload = json.dumps(obj).encode("utf-8")
    return len(payload).to_bytes(2, "big") + payload


def main():
    if len(sys.argv) != 2:
        print("usage: baseline_server.py PORT", file=sys.stderr)
        return 64
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(sys.argv[1])))
    listener.listen(4096)
    print(f"port={listener.getsockname()[1]}", flush=True)

    read_set = [listener]
    buffers = {}  # socket -> bytes received and not yet a whole packet
    nicks = {}  # socket -> nick, for clients that sent hello

    def broadcast(obj):
        data = frame(obj)
        for client in list(nicks):
            try:
                client.sendall(data)
            except OSError:
                drop(client)

    def drop(client):
        if client not in buffers:
            return
        read_set.remove(client)
        del buffers[client]
        nick = nicks.pop(client, None)
        client.close()
        if nick is not None:
            broadcast({"type": "leave", "nick": nick})

    def handle(client, packet):
        kind = packet.get("type")
        if kind == "hello" and client not in nicks:
            nicks[client] = packet.get("nick", "")
            broadcast({"type": "join", "nick": nicks[client]})
        elif kind == "chat" and client in nicks:
            broadcast({"type": "chat", "nick": nicks[client], "message": packet.get("message", "")})

    while True:
        ready, _, _ = select.select(read_set, [], [])
        for sock in ready:
            if sock is listener:
                client, _ = listener.accept()
                if client.fileno() >= FD_LIMIT:
                    client.close()
                    continue
                read_set.append(client)
                buffers[client] = b""
                continue
            if sock not in buffers:
                continue  # dropped by a broadcast earlier in this round
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                drop(sock)
                continue
            buf = buffers[sock] + data
            while len(buf) >= 2:
                length = int.from_bytes(buf[:2], "big")
                if len(buf) < 2 + length:
                    break
                payload, buf = buf[2 : 2 + length], buf[2 + length :]
                try:
                    packet = json.loads(payload.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    continue
                if isinstance(packet, dict):
                    handle(sock, packet)
                if sock not in buffers:
                    break
            if sock in buffers:
                buffers[sock] = buf


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
