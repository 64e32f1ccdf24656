"""Raw HTTP/1.1 over real sockets, for the tests that attack the server's connection limits
(heads, trailers, pipelines, deadlines): what an HTTP client library would never send."""

from __future__ import annotations

import re
import select
import socket
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

TIMEOUT = 10.0
MIB = 1024 * 1024
GET = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def connect(url: str, timeout: float = TIMEOUT) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset after its answer counts as
    closed: it stopped reading with our bytes still unread)."""
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def read_response(sock: socket.socket) -> bytes:
    """One whole response (with a Content-Length), however it is split into reads."""
    received = b""
    while True:
        head, found, body = received.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length: *(\d+)", head)
        if found and length and len(body) >= int(length[1]):
            return received
        chunk = sock.recv(65536)
        assert chunk, f"closed after {received!r}"
        received += chunk


def closed_within(sock: socket.socket, seconds: float) -> tuple[bytes, float]:
    """What the server sends until it closes, and how long that took (fails the test, with a
    timeout, if it is still open after `seconds`)."""
    started = time.monotonic()
    sock.settimeout(seconds)
    answer = read_until_closed(sock)
    return answer, time.monotonic() - started


def responses(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """The HTTP/1.1 responses in `raw`, in order (each with a Content-Length; interim 1xx
    responses are skipped)."""
    parsed = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        if 100 <= status < 200:
            raw = rest
            continue
        headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        length = int(headers["content-length"])
        parsed.append((status, headers, rest[:length]))
        raw = rest[length:]
    return parsed


def statuses(raw: bytes) -> list[int]:
    return [status for status, _, _ in responses(raw)]


def attack(url: str, pieces: Iterable[bytes], pause: float = 0.0) -> tuple[bytes, int]:
    """Send `pieces` from a thread (stopping when the server closes) while reading what the
    server answers; returns the answer and how many bytes got sent."""
    sent = 0
    with connect(url) as sock:

        def send() -> None:
            nonlocal sent
            try:
                for piece in pieces:
                    sock.sendall(piece)
                    sent += len(piece)
                    if pause:
                        time.sleep(pause)
            except OSError:
                pass  # the server closed: what this is about

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        answer = read_until_closed(sock)
        sender.join(TIMEOUT)
        assert not sender.is_alive(), "the server still reads what it should have cut off"
    return answer, sent


def flood(url: str, start: bytes, piece: bytes, total: int) -> int:
    """Send `start`, then `piece` again and again up to `total` bytes, never reading; returns
    how much got sent before the server closed (the kernel buffers a few MiB on loopback)."""
    sent = 0
    with connect(url) as sock:
        try:
            sock.sendall(start)
            while sent < total:
                sock.sendall(piece)
                sent += len(piece)
        except TimeoutError:
            raise AssertionError(f"the server neither read nor closed after {sent} bytes") from None
        except OSError:
            pass  # the server closed: what this is about
    return sent


def peak_rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert match, status
    return int(match.group(1)) * 1024


def answered(sock: socket.socket) -> bool:
    """Whether an answer waits to be read (left in place for the reads after)."""
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable) and sock.recv(16, socket.MSG_PEEK).startswith(b"HTTP/1.1 ")
