"""Request heads and trailers are bounded (review finding 3, and issue 15's review finding 2):
a request line and headers, or a chunked body's framing and trailers, over
`TESSERA_MAX_HEADER_BYTES` get 431 in the contract's JSON shape and a closed connection, and
the server stops reading instead of buffering them. Raw sockets against a real server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tessera import Tessera
from tests.conftest import make_settings
from tests.helpers import wait_until
from tests.live import LISTENING, in_process_server, serve
from tests.raw_http import (
    GET,
    MIB,
    TIMEOUT,
    answered,
    attack,
    connect,
    flood,
    peak_rss,
    read_response,
    read_until_closed,
    responses,
    statuses,
)

pytestmark = pytest.mark.slow

CAP = 16 * 1024  # the default


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    service = Tessera(make_settings(tmp_path_factory.mktemp("heads") / "data"))
    with in_process_server(service) as url:
        yield url


def assert_refused(answer: bytes, what: str = "headers") -> None:
    [(status, headers, body)] = responses(answer)
    assert status == 431, answer[:200]
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    error = json.loads(body)
    assert error["error"] == "headers_too_large"
    assert str(CAP) in error["error_description"] and what in error["error_description"]


def header_lines(total: int, *, complete: bool = True) -> Iterator[bytes]:
    """A request of `total` bytes of 100-byte header lines (`complete`: and its end)."""
    yield b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
    for n in range(total // 100):
        yield b"X-Pad-%06d: %s\r\n" % (n, b"a" * 84)
    if complete:
        yield b"\r\n"


def huge(start: bytes, size: int, end: bytes) -> list[bytes]:
    return [start, *(b"a" * 65536 for _ in range(size // 65536)), end]


def test_many_small_header_lines_past_the_cap_get_431(base_url: str) -> None:
    answer, _ = attack(base_url, header_lines(2 * MIB))
    assert_refused(answer)


def test_one_huge_header_line_gets_431(base_url: str) -> None:
    start = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
    answer, _ = attack(base_url, huge(start, 2 * MIB, b"\r\n\r\n"))
    assert_refused(answer)


def test_a_huge_request_line_gets_431(base_url: str) -> None:
    end = b" HTTP/1.1\r\nHost: x\r\n\r\n"
    answer, _ = attack(base_url, huge(b"GET /healthz?q=", 2 * MIB, end))
    assert_refused(answer)


def test_a_slow_drip_is_counted_too(base_url: str) -> None:
    # Small pieces, each its own read on the server, and a head that never ends: the cap
    # holds across them.
    answer, _ = attack(base_url, header_lines(4 * CAP, complete=False), pause=0.0005)
    assert_refused(answer)


def test_an_unfinished_head_over_the_cap_in_one_write_is_refused_at_once(
    base_url: str,
) -> None:
    with connect(base_url) as sock:
        sock.sendall(b"".join(header_lines(2 * CAP, complete=False)))
        assert_refused(read_until_closed(sock))


def test_a_complete_head_over_the_cap_in_one_write_gets_431(base_url: str) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (CAP + 100) + b"\r\n\r\n"
    with connect(base_url) as sock:
        sock.sendall(head)
        assert_refused(read_until_closed(sock))


def test_a_flood_is_cut_off_without_being_read(base_url: str) -> None:
    """64 MiB of header bytes: the server closes long before they are sent (what the kernel
    buffers on loopback is a few MiB), instead of reading and buffering them."""
    _, sent = attack(base_url, huge(b"GET /healthz HTTP/1.1\r\nX-Flood: ", 64 * MIB, b""))
    assert sent < 24 * MIB, f"{sent} bytes sent before the server closed"


def test_big_but_legal_heads_still_work(base_url: str) -> None:
    cookie = "tessera_refresh=" + "c" * 8192
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
        ok = http.get("/healthz", headers={"Cookie": cookie, "X-Other": "o" * 4096})
        assert ok.status_code == 200, ok.text
        # just under the cap, in many headers
        many = {f"x-pad-{n}": "p" * 100 for n in range((CAP - 1024) // 120)}
        assert http.get("/healthz", headers=many).status_code == 200


def test_keep_alive_and_pipelined_requests_still_work(base_url: str) -> None:
    # a body bigger than the cap before a pipelined request is no head
    body = b"b" * (2 * CAP)
    post = b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    with connect(base_url) as sock:
        sock.sendall(GET)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first
        sock.sendall(GET + post + GET + GET + b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert statuses(read_until_closed(sock)) == [200, 405, 200, 200, 200]


BIG_HEAD = b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * (CAP + 100) + b"\r\n\r\n"


def test_a_pipelined_head_over_the_cap_gets_431_after_the_answer_before_it(base_url: str) -> None:
    # The big head begins mid-read, after a request: its exact size still counts. The 431
    # waits for the answer to the request before it; nothing after the big head is served.
    with connect(base_url) as sock:
        sock.sendall(GET + BIG_HEAD + GET)
        assert statuses(read_until_closed(sock)) == [200, 431]


def test_a_pipelined_head_over_the_cap_across_two_writes_gets_431(base_url: str) -> None:
    # The big head begins mid-read (its first read is not counted) and ends in a small one.
    with connect(base_url) as sock:
        sock.sendall(GET + BIG_HEAD[:-10])
        # The server has read the first write on its own once it answers the request in it.
        wait_until(lambda: answered(sock), "the answer to the first request")
        sock.sendall(BIG_HEAD[-10:])
        assert statuses(read_until_closed(sock)) == [200, 431]


# Trailers: the fields after a chunked body's last chunk count against the same cap ----------

CHUNKED_HEAD = (
    b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)
CHUNKED_LOGIN = CHUNKED_HEAD + b"1\r\n{\r\n"
LAST_CHUNK = b"0\r\n"
TRAILER_BLOCK = (b"X-T: " + b"a" * 100 + b"\r\n") * 1000  # about 105 KiB


def test_trailers_past_the_cap_get_431(base_url: str) -> None:
    """The reviewer's attack: a login's chunked body, then an endless stream of trailer
    fields (200 MiB of them grew the server by 500 MB)."""
    answer, sent = attack(base_url, [CHUNKED_LOGIN + LAST_CHUNK, *[TRAILER_BLOCK] * 320])
    assert_refused(answer, "trailers")
    assert sent < 24 * MIB, f"{sent} bytes sent before the server closed"


def test_one_huge_trailer_line_gets_431(base_url: str) -> None:
    answer, _ = attack(base_url, huge(CHUNKED_LOGIN + LAST_CHUNK + b"X-Big: ", 4 * MIB, b""))
    assert_refused(answer, "trailers")


def test_a_trailer_section_over_the_cap_in_one_write_gets_431(base_url: str) -> None:
    trailers = b"".join(b"X-T-%04d: %s\r\n" % (n, b"a" * 90) for n in range(200))
    with connect(base_url) as sock:
        sock.sendall(CHUNKED_LOGIN + LAST_CHUNK + trailers + b"\r\n")
        assert_refused(read_until_closed(sock), "trailers")


def test_trailers_after_the_answer_are_cut_off(base_url: str) -> None:
    # /healthz answers without reading the body: the flood comes after its 200, and the
    # connection is closed with no second answer.
    start = b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + LAST_CHUNK
    with connect(base_url) as sock:
        sock.sendall(start)
        assert statuses(read_response(sock)) == [200]
        sent = 0
        try:
            while sent < 32 * MIB:
                sock.sendall(TRAILER_BLOCK)
                sent += len(TRAILER_BLOCK)
        except OSError:
            pass  # the server closed: what this is about
        assert sent < 24 * MIB, f"{sent} bytes sent before the server closed"
        assert read_until_closed(sock) == b""


def test_a_chunk_size_line_past_the_cap_gets_431(base_url: str) -> None:
    # A chunk extension that never ends: chunk framing counts like trailers.
    answer, _ = attack(base_url, huge(CHUNKED_HEAD + b"1;ext=", 4 * MIB, b""))
    assert_refused(answer, "trailers")


def test_small_trailers_and_chunked_bodies_still_work(base_url: str) -> None:
    body = json.dumps({"username": "nobody", "password": "wrong"}).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:5], body[5:]))
    with connect(base_url) as sock:
        sock.sendall(CHUNKED_HEAD + chunks + LAST_CHUNK + b"X-Checksum: abc\r\n\r\n")
        sock.sendall(b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert statuses(read_until_closed(sock)) == [401, 200]


def test_serve_caps_heads_by_its_setting_and_keeps_its_memory(tmp_path: Path) -> None:
    """`tessera serve` itself: the setting applies, and floods of headers or trailers leave its
    peak RSS flat."""
    with serve(tmp_path / "data", env={"TESSERA_MAX_HEADER_BYTES": "4096"}) as served:
        url = served.expect(LISTENING).group(1)
        with httpx.Client(base_url=url, timeout=TIMEOUT) as http:
            assert http.get("/healthz", headers={"X-Pad": "p" * 3000}).status_code == 200
            refused = http.get("/healthz", headers={"X-Pad": "p" * 5000})
            assert refused.status_code == 431
            assert refused.json()["error"] == "headers_too_large"
        before = peak_rss(served.process.pid)
        _, sent = attack(url, huge(b"GET /healthz HTTP/1.1\r\nX-Flood: ", 64 * MIB, b""))
        assert sent < 24 * MIB
        # the reviewer's trailer flood, three connections at once
        floods = [(CHUNKED_LOGIN + LAST_CHUNK, TRAILER_BLOCK, 64 * MIB)] * 3
        with ThreadPoolExecutor(3) as pool:
            sent_each = list(pool.map(lambda a: flood(url, *a), floods))
        assert max(sent_each) < 24 * MIB, sent_each
        assert peak_rss(served.process.pid) - before < 16 * MIB
