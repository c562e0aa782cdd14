#!/usr/bin/env python3
"""TLS peers for chat_client's tests, Python standard library only.

Modes (the listening port is printed as "PORT <n>" on stdout once it listens):
  proxy      terminate TLS and forward the bytes to --forward HOST:PORT (the real chatd);
             prints "EOF close_notify" or "EOF ragged" when a client's TLS stream ends
  stall      accept TCP connections and never answer the TLS handshake
  auth       a small chat server speaking the framed protocol itself (2-byte big-endian
             length + JSON): prints "HELLO <json>" for every hello; a hello without the
             --password gets the closing error auth-failed, the right one a welcome, and
             each chat is echoed back; --plain serves without TLS
"""
import argparse
import json
import socket
import ssl
import struct
import sys
import threading


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def pump(src, dst, label):
    """Copies src to dst until src ends; then half-closes dst."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                if isinstance(src, ssl.SSLSocket):
                    say("EOF close_notify")
                break
            dst.sendall(data)
    except ssl.SSLEOFError:
        say("EOF ragged")
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


LIVE = []  # the proxy's open connections, for "DROP" on stdin
LIVE_LOCK = threading.Lock()


def drop_on_command():
    """A line "DROP" on stdin resets every open connection (a lost network)."""
    for line in sys.stdin:
        if line.strip() == "DROP":
            with LIVE_LOCK:
                for s in LIVE:
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                LIVE.clear()
            say("DROPPED")


def serve_proxy(conn, ctx, forward):
    try:
        conn.settimeout(10)
        tls = ctx.wrap_socket(conn, server_side=True, suppress_ragged_eofs=False)
        tls.settimeout(None)
    except (OSError, ssl.SSLError) as e:
        say("HANDSHAKE-FAILED " + type(e).__name__)
        conn.close()
        return
    host, port = forward.rsplit(":", 1)
    up = socket.create_connection((host, int(port)))
    with LIVE_LOCK:
        LIVE.extend([tls, up])
    t = threading.Thread(target=pump, args=(up, tls, "down"), daemon=True)
    t.start()
    pump(tls, up, "up")
    t.join(15)
    for s in (tls, up):
        try:
            s.close()
        except OSError:
            pass


def read_frame(sock, buf):
    while True:
        if len(buf) >= 2:
            (n,) = struct.unpack(">H", bytes(buf[:2]))
            if len(buf) >= 2 + n:
                payload = bytes(buf[2:2 + n])
                del buf[:2 + n]
                return payload
        data = sock.recv(65536)
        if not data:
            return None
        buf.extend(data)


def send_packet(sock, obj):
    payload = json.dumps(obj, ensure_ascii=False).encode()
    sock.sendall(struct.pack(">H", len(payload)) + payload)


def serve_auth(conn, ctx, password):
    try:
        conn.settimeout(10)
        sock = ctx.wrap_socket(conn, server_side=True) if ctx else conn
        sock.settimeout(30)
        buf = bytearray()
        payload = read_frame(sock, buf)
        if payload is None:
            return
        hello = json.loads(payload)
        say("HELLO " + json.dumps(hello, sort_keys=True))
        nick = hello.get("nick", "")
        if hello.get("password") != password:
            send_packet(sock, {"type": "error", "code": "auth-failed",
                               "message": "this nick is registered: wrong or missing password"})
            try:
                sock.shutdown(socket.SHUT_WR)
                while sock.recv(4096):
                    pass
            except OSError:
                pass
            return
        send_packet(sock, {"type": "welcome", "nick": nick, "server": "tls_peer.py",
                           "caps": [], "room": "lobby"})
        send_packet(sock, {"type": "join", "nick": nick})
        while True:
            payload = read_frame(sock, buf)
            if payload is None:
                return
            packet = json.loads(payload)
            if packet.get("type") == "chat":
                send_packet(sock, {"type": "chat", "nick": nick, "message": packet["message"]})
    except (OSError, ssl.SSLError, ValueError) as e:
        say("ERROR " + type(e).__name__)
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["proxy", "stall", "auth"])
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--forward")
    ap.add_argument("--password", default="")
    ap.add_argument("--plain", action="store_true")
    args = ap.parse_args()
    ctx = None
    if not args.plain and args.mode != "stall":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("127.0.0.1", 0))
    lst.listen(16)
    say("PORT %d" % lst.getsockname()[1])
    if args.mode == "proxy":
        threading.Thread(target=drop_on_command, daemon=True).start()
    held = []
    while True:
        conn, _ = lst.accept()
        if args.mode == "stall":
            held.append(conn)  # never read, never answer
            say("ACCEPTED")
            continue
        target = serve_proxy if args.mode == "proxy" else serve_auth
        extra = args.forward if args.mode == "proxy" else args.password
        threading.Thread(target=target, args=(conn, ctx, extra), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
