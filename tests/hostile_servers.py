"""Hostile servers on 127.0.0.1 for the freshness checker's tests and the fuzz campaign.

Real sockets, no mocks: a raw TCP server that runs a handler per connection (for
servers that trickle headers or bodies), and builders for hostile documents.
"""

from __future__ import annotations

import socket
import threading
import time
import zlib
from collections.abc import Callable


class RawServer:
    """A TCP server on 127.0.0.1 that hands every connection to `handler(conn)` in its own thread."""

    def __init__(self, handler: Callable[[socket.socket], None]):
        self.handler = handler
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        try:
            self.sock.close()
        except OSError:
            pass

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(30)
            _read_request(conn)
            self.handler(conn)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def trickle(data: bytes, every: float, stop_after: float = 60.0) -> Callable[[socket.socket], None]:
    """A handler sending `data` one byte at a time, a byte every `every` seconds."""

    def handler(conn: socket.socket) -> None:
        start = time.monotonic()
        for byte in data:
            if time.monotonic() - start > stop_after:
                return
            conn.sendall(bytes([byte]))
            time.sleep(every)

    return handler


def trickling_body(every: float = 0.2, size: int = 100_000) -> Callable[[socket.socket], None]:
    """Headers at once, then a body of `size` bytes a byte at a time."""

    def handler(conn: socket.socket) -> None:
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {size}\r\n\r\n".encode())
        trickle(b"x" * size, every)(conn)

    return handler


def trickling_headers(every: float = 0.2) -> Callable[[socket.socket], None]:
    return trickle(b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-Slow-%d: yes\r\n" % i for i in range(5000)) + b"\r\n", every)


def refusing_port() -> int:
    """A port on 127.0.0.1 nothing listens on: connecting to it is refused."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------- hostile documents


def quadratic_html(size: int = 120_000) -> bytes:
    """`<a <a <a ...`: quadratic in Python's html.parser (186 s of CPU for 120 KB)."""
    return b"<html><body>" + b"<a " * (size // 3)


def cdata_html(size: int = 120_000) -> bytes:
    """`<![<![<![`: an AssertionError inside Python's html.parser."""
    return b"<html><body>" + b"<![" * (size // 3)


def deep_json(depth: int = 200_000) -> bytes:
    return b"[" * depth + b"]" * depth


def pdf_bomb(inflated: int = 256 * 1024 * 1024) -> bytes:
    """A one-page PDF whose content stream inflates to `inflated` bytes (a few hundred KB on the wire)."""
    comp = zlib.compressobj(1)
    block = b"BT /F1 12 Tf (A) Tj ET\n" * (1024 * 1024 // 22)
    parts = [comp.compress(block) for _ in range(inflated // len(block))]
    parts.append(comp.flush())
    stream = b"".join(parts)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
