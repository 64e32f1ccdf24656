"""A JWKS or revocation-feed answer is capped by the bytes on the wire, never by what they
decompress to (issue 15 review, finding 5).

The attack: a server on 127.0.0.1 answering `Content-Encoding: gzip, gzip` with a few hundred
bytes that expand to tens of megabytes. The size cap used to be checked on the decoded chunks,
after each had been expanded in full; now any encoding other than identity is refused before
a byte of the body is read, and the body is read raw.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import httpx
import pytest

from tessera.fetch import NO_KEEPALIVE, FetchError, bounded_get

BOMB_MIB = 50  # what the bomb expands to: far past every cap, small enough for CI memory
MIB = 1 << 20
CHILD_TIMEOUT = 60.0


def gzip_bomb(mib: int, layers: int) -> bytes:
    """`mib` MiB of zeros gzipped `layers` times, built a MiB at a time (this process never
    holds the expanded body)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(MIB)
    data = b"".join(packer.compress(zeros) for _ in range(mib)) + packer.flush()
    for _ in range(layers - 1):
        data = zlib.compress(data, 9, wbits=31)
    return data


BOMB = gzip_bomb(BOMB_MIB, 2)


class RawServer:
    """A socket on 127.0.0.1 answering every request with the same bytes, then closing."""

    def __init__(self, head: list[str], body: bytes) -> None:
        lines = ["HTTP/1.1 200 OK", "Content-Type: application/json", *head]
        lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
        self.answer = "\r\n".join(lines).encode() + body
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/remote"

    def _serve(self) -> None:
        while not self.closing.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn, suppress(OSError):
                conn.settimeout(5)
                conn.recv(65536)
                conn.sendall(self.answer)

    def __enter__(self) -> RawServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.closing.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def bomb() -> Iterator[RawServer]:
    with RawServer(["Content-Encoding: gzip, gzip"], BOMB) as server:
        yield server


def fetch(url: str, max_bytes: int = 256 * 1024) -> bytes:
    with httpx.Client(limits=NO_KEEPALIVE) as client:
        return bounded_get(client, url, deadline=10.0, max_bytes=max_bytes).body


@pytest.mark.parametrize(
    "head",
    [
        ["Content-Encoding: gzip, gzip"],
        ["Content-Encoding: GZip"],
        ["Content-Encoding: deflate"],
        ["Content-Encoding: br"],
        ["Content-Encoding: zstd"],
        ["Content-Encoding: x-made-up"],
        ["Content-Encoding: identity, gzip"],
        ["Content-Encoding: identity", "Content-Encoding: gzip"],
    ],
    ids=lambda head: " + ".join(h.split(": ", 1)[1] for h in head),
)
def test_an_encoded_answer_is_refused_before_its_body_is_read(head: list[str]) -> None:
    with RawServer(head, BOMB) as server, pytest.raises(FetchError, match="Content-Encoding"):
        fetch(server.url)


def test_an_identity_answer_is_read_as_is() -> None:
    page = json.dumps({"keys": []}).encode()
    with RawServer(["Content-Encoding: identity"], page) as server:
        assert fetch(server.url) == page


def test_gzip_bytes_sent_as_identity_are_capped_as_they_are() -> None:
    """No header: the bomb is a few hundred opaque bytes, read as they are, never expanded,
    and refused by a cap below their own size."""
    with RawServer([], BOMB) as server:
        assert fetch(server.url) == BOMB
        with pytest.raises(FetchError, match="larger than 100 bytes"):
            fetch(server.url, max_bytes=100)


# the reviewer's attack, in a fresh process whose peak memory is its own ---------------------

CHILD = """
import base64, json, re, sys
from pathlib import Path
from tessera.revocations import RevocationFeed
from tessera.revocations.feed import FeedError
from tessera.verify import InvalidToken, Verifier

def peak():  # VmHWM, not ru_maxrss: that one starts at the forking parent's peak
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\\s*(\\d+) kB", status).group(1)) * 1024

url, reader = sys.argv[1:]
if reader == "jwks":
    part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    token = part({"alg": "ES256", "typ": "at+jwt", "kid": "k1"}) + "." + part({"sub": "x"})
    verifier = Verifier(url, issuer="tessera", audience="tessera")
    before = peak()
    try:
        verifier.verify(token + ".AAAA")
        outcome = "accepted"
    except InvalidToken as exc:
        outcome = f"InvalidToken {exc.reason}: {verifier.jwks.last_error}"
else:
    feed = RevocationFeed(url, start=False)
    before = peak()
    try:
        feed.poll()
        outcome = "read"
    except FeedError as exc:
        outcome = f"FeedError: {exc}"
print(json.dumps({"growth": peak() - before, "outcome": outcome}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak RSS read from /proc")
@pytest.mark.parametrize("reader", ["jwks", "feed"])
def test_a_gzip_bomb_never_expands_in_memory(bomb: RawServer, reader: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, bomb.url, reader],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    # Decoded, the peak grows by at least the expanded body; read raw, by next to nothing.
    assert report["growth"] < BOMB_MIB * MIB // 5, report
    expected = "InvalidToken" if reader == "jwks" else "FeedError"
    assert report["outcome"].startswith(expected), report
    assert "Content-Encoding" in report["outcome"], report
