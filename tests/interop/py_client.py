#!/usr/bin/env python3
"""A minimal chat client written only from PROTOCOL.md part 1, as a course student would.

Usage: py_client.py [--json] NICK HOST PORT

Sends hello, then every line read from stdin as a chat (empty lines are skipped,
/q quits at once and sends nothing). Every packet received is printed as the
course renders it (`pat: hi`, `*** pat has joined the chat`), or, with --json,
as one JSON object per line. Exits when stdin ends or the server closes.
"""
import json
import os
import select
import socket
import struct
import sys


def encode_packet(packet):
    payload = json.dumps(packet, ensure_ascii=False).encode("utf-8")
    return struct.pack("!H", len(payload)) + payload


def send_packet(sock, packet):
    sock.sendall(encode_packet(packet))


def decode_packets(received):
    """Splits the complete packets off `received`: returns (packets, rest)."""
    packets = []
    pos = 0
    # A packet is complete only when 2 + N bytes are buffered.
    while len(received) - pos >= 2:
        (length,) = struct.unpack_from("!H", received, pos)
        if len(received) - pos < 2 + length:
            break
        packets.append(json.loads(bytes(received[pos + 2 : pos + 2 + length]).decode("utf-8")))
        pos += 2 + length
    return packets, received[pos:]


def inert(text):
    # Control characters from the network must not drive the terminal.
    return "".join(
        "\ufffd" if ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F else ch for ch in str(text)
    )


def render(packet):
    kind = packet.get("type")
    if kind == "chat":
        return f"{inert(packet.get('nick'))}: {inert(packet.get('message'))}"
    if kind == "join":
        return f"*** {inert(packet.get('nick'))} has joined the chat"
    if kind == "leave":
        return f"*** {inert(packet.get('nick'))} has left the chat"
    return None  # not a part 1 packet: nothing to show


def main():
    args = sys.argv[1:]
    as_json = "--json" in args
    args = [a for a in args if a != "--json"]
    if len(args) != 3:
        print("usage: py_client.py [--json] NICK HOST PORT", file=sys.stderr)
        return 64
    nick, host, port = args
    sock = socket.create_connection((host, int(port)))
    send_packet(sock, {"type": "hello", "nick": nick})

    received = b""
    typed = b""
    while True:
        readable, _, _ = select.select([sock, sys.stdin.fileno()], [], [])
        if sock in readable:
            data = sock.recv(65536)
            if not data:
                print("*** disconnected", flush=True)
                return 0
            packets, received = decode_packets(received + data)
            for packet in packets:
                if as_json:
                    print(json.dumps(packet, ensure_ascii=False), flush=True)
                else:
                    line = render(packet)
                    if line is not None:
                        print(line, flush=True)
        if sys.stdin.fileno() in readable:
            chunk = os.read(sys.stdin.fileno(), 65536)
            if not chunk:
                sock.close()
                return 0
            typed += chunk
            while b"\n" in typed:
                line, typed = typed.split(b"\n", 1)
                text = line.decode("utf-8").rstrip("\r")
                if text == "/q":
                    sock.close()
                    return 0
                if text:
                    send_packet(sock, {"type": "chat", "message": text})


if __name__ == "__main__":
    sys.exit(main())
