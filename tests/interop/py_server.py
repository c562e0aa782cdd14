#!/usr/bin/env python3
"""A minimal chat server written only from PROTOCOL.md part 1, as a course student would.

Usage: py_server.py PORT [HOST]

One select() loop over the listening socket and every client. PORT 0 picks a
free port; the port in use is printed as the first line on stdout. HOST defaults
to 127.0.0.1. A client that breaks the protocol is simply disconnected.
"""
import json
import select
import socket
import struct
import sys


def frame(packet):
    payload = json.dumps(packet, ensure_ascii=False).encode("utf-8")
    return struct.pack("!H", len(payload)) + payload


class Client:
    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""
        self.nick = None


def main():
    if len(sys.argv) not in (2, 3):
        print("usage: py_server.py PORT [HOST]", file=sys.stderr)
        return 64
    host = sys.argv[2] if len(sys.argv) == 3 else "127.0.0.1"
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, int(sys.argv[1])))
    listener.listen(64)
    print(listener.getsockname()[1], flush=True)

    clients = {}  # socket -> Client

    def drop(client):
        if client.sock not in clients:
            return
        del clients[client.sock]
        client.sock.close()
        if client.nick is not None:
            broadcast({"type": "leave", "nick": client.nick})

    def broadcast(packet):
        data = frame(packet)
        for other in list(clients.values()):
            if other.nick is None:
                continue
            try:
                other.sock.sendall(data)
            except OSError:
                drop(other)

    def handle(client, packet):
        if not isinstance(packet, dict) or not isinstance(packet.get("type"), str):
            return False
        if client.nick is None:
            nick = packet.get("nick")
            if packet["type"] != "hello" or not isinstance(nick, str) or not nick:
                return False
            if any(c.nick == nick for c in clients.values()):
                return False
            client.nick = nick
            broadcast({"type": "join", "nick": nick})
            return True
        if packet["type"] == "chat" and isinstance(packet.get("message"), str):
            broadcast({"type": "chat", "nick": client.nick, "message": packet["message"]})
        return True

    while True:
        readable, _, _ = select.select([listener] + list(clients), [], [])
        for sock in readable:
            if sock is listener:
                conn, _ = listener.accept()
                clients[conn] = Client(conn)
                continue
            client = clients.get(sock)
            if client is None:
                continue  # dropped earlier in this round
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                drop(client)
                continue
            client.buffer += data
            while len(client.buffer) >= 2 and client.sock in clients:
                (length,) = struct.unpack("!H", client.buffer[:2])
                if length == 0:
                    drop(client)
                    break
                if len(client.buffer) < 2 + length:
                    break
                payload = client.buffer[2 : 2 + length]
                client.buffer = client.buffer[2 + length :]
                try:
                    packet = json.loads(payload.decode("utf-8"))
                except ValueError:
                    drop(client)
                    break
                if not handle(client, packet):
                    drop(client)
                    break


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
