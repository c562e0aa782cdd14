#!/usr/bin/env python3
"""TLS peers for chatd's tests, independent of chatd's code: Python's ssl module
and `openssl s_client`, framing packets as PROTOCOL.md part 1 says.

Usage:
  tls_peer.py chat PORT CAFILE NICK      Python ssl: verify against CAFILE (host
                                         localhost), hello, stdin lines -> chats,
                                         each packet received printed as its raw
                                         JSON payload; "ready" after the hello.
  tls_peer.py sclient PORT CAFILE NICK   the same through `openssl s_client`.
  tls_peer.py fingerprint PORT           prints the server certificate's SHA-256.
  tls_peer.py old PORT                   offers TLS 1.0/1.1 only; prints
                                         "refused <why>", "timeout" or "accepted".
  tls_peer.py stall PORT CAFILE NICK     hello, then reads nothing (small receive
                                         buffer) until stdin ends; "ready" first.
  tls_peer.py partial PORT               sends half a ClientHello, then waits for
                                         the server to close: "closed" or "timeout".
"""
import hashlib
import json
import os
import select
import socket
import ssl
import struct
import subprocess
import sys
import time


def frame(packet):
    payload = json.dumps(packet, ensure_ascii=False).encode("utf-8")
    return struct.pack("!H", len(payload)) + payload


def split_frames(buf):
    out = []
    pos = 0
    while len(buf) - pos >= 2:
        (n,) = struct.unpack_from("!H", buf, pos)
        if len(buf) - pos < 2 + n:
            break
        out.append(bytes(buf[pos + 2 : pos + 2 + n]).decode("utf-8", "replace"))
        pos += 2 + n
    return out, buf[pos:]


def verified_context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def relay(read_net, write_net, net_fd, on_eof):
    """stdin lines -> chat frames; received frames -> stdout, until either ends."""
    received = b""
    typed = b""
    stdin = sys.stdin.fileno()
    while True:
        readable, _, _ = select.select([net_fd, stdin], [], [])
        if net_fd in readable:
            data = read_net()
            if data is None:
                pass
            elif not data:
                print("*** disconnected", flush=True)
                return 0
            else:
                packets, received = split_frames(received + data)
                for p in packets:
                    print(p, flush=True)
        if stdin in readable:
            chunk = os.read(stdin, 65536)
            if not chunk:
                on_eof()
                return 0
            typed += chunk
            while b"\n" in typed:
                line, typed = typed.split(b"\n", 1)
                if line:
                    write_net(frame({"type": "chat", "message": line.decode("utf-8")}))


def chat(port, cafile, nick):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock = verified_context(cafile).wrap_socket(raw, server_hostname="localhost")
    sock.sendall(frame({"type": "hello", "nick": nick}))
    print("ready", flush=True)
    sock.settimeout(None)

    def read_net():
        try:
            data = sock.recv(65536)
            while sock.pending():
                data += sock.recv(sock.pending())
            return data
        except ssl.SSLWantReadError:
            return None
        except (ConnectionError, ssl.SSLError):
            return b""

    def close():
        try:
            sock.unwrap()  # close_notify
        except (OSError, ssl.SSLError):
            pass
        sock.close()

    return relay(read_net, sock.sendall, sock.fileno(), close)


def sclient(port, cafile, nick):
    proc = subprocess.Popen(
        ["openssl", "s_client", "-quiet", "-verify_return_error", "-CAfile", cafile,
         "-verify_hostname", "localhost", "-servername", "localhost",
         "-connect", f"127.0.0.1:{port}"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sys.stderr, bufsize=0)
    proc.stdin.write(frame({"type": "hello", "nick": nick}))
    print("ready", flush=True)
    out = proc.stdout.fileno()

    def read_net():
        return os.read(out, 65536)

    def write_net(data):
        proc.stdin.write(data)

    def close():
        proc.terminate()
        proc.wait(10)

    try:
        return relay(read_net, write_net, out, close)
    finally:
        if proc.poll() is None:
            proc.kill()


def fingerprint(port):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as sock:
            print(hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest(), flush=True)
    return 0


def old(port):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock = ctx.wrap_socket(raw, server_hostname="localhost")
        print("accepted " + str(sock.version()), flush=True)
    except socket.timeout:
        print("timeout", flush=True)
    except (ssl.SSLError, ConnectionError) as e:
        print("refused " + str(e).replace("\n", " "), flush=True)
    return 0


def stall(port, cafile, nick):
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(10)
    raw.connect(("127.0.0.1", port))
    sock = verified_context(cafile).wrap_socket(raw, server_hostname="localhost")
    sock.sendall(frame({"type": "hello", "nick": nick}))
    print("ready", flush=True)
    sys.stdin.read()  # reads nothing from the server until told to stop
    sock.close()
    return 0


def client_hello():
    """A TLS client's first flight (its ClientHello record), made in memory."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def partial(port):
    hello = client_hello()
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw.sendall(hello[: len(hello) // 2])
    print("sent " + str(len(hello) // 2), flush=True)
    start = time.monotonic()
    raw.settimeout(30)
    try:
        while raw.recv(4096):
            pass
        print("closed %.3f" % (time.monotonic() - start), flush=True)
    except socket.timeout:
        print("timeout", flush=True)
    except ConnectionError:
        print("closed %.3f" % (time.monotonic() - start), flush=True)
    return 0


def main():
    a = sys.argv[1:]
    if len(a) >= 2:
        mode, port = a[0], int(a[1])
        if mode == "chat" and len(a) == 4:
            return chat(port, a[2], a[3])
        if mode == "sclient" and len(a) == 4:
            return sclient(port, a[2], a[3])
        if mode == "stall" and len(a) == 4:
            return stall(port, a[2], a[3])
        if mode == "fingerprint":
            return fingerprint(port)
        if mode == "old":
            return old(port)
        if mode == "partial":
            return partial(port)
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main())
