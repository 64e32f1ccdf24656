"""Request heads are bounded (review finding 3): a request line and headers over
`TESSERA_MAX_HEADER_BYTES` get 431 in the contract's JSON shape and a closed connection, and
the server stops reading instead of buffering them. Raw sockets against a real server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tessera import Tessera
from tests.conftest import make_settings
from tests.live import LISTENING, in_process_server, serve
from tests.raw_http import (
    MIB,
    TIMEOUT,
    attack,
    closed_within,
    connect,
    peak_rss,
    read_until_closed,
    responses,
)

pytestmark = pytest.mark.slow

CAP = 16 * 1024  # the default


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    service = Tessera(make_settings(tmp_path_factory.mktemp("heads") / "data"))
    with in_process_server(service) as url:
        yield url


def assert_refused(answer: bytes) -> None:
    [(status, headers, body)] = responses(answer)
    assert status == 431, answer[:200]
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    error = json.loads(body)
    assert error["error"] == "headers_too_large"
    assert str(CAP) in error["error_description"]


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
    get = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    # a body bigger than the cap before a pipelined request is no head
    body = b"b" * (2 * CAP)
    post = b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    with connect(base_url) as sock:
        sock.sendall(get)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first
        sock.sendall(get + post + get + get + b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
        statuses = [status for status, _, _ in responses(read_until_closed(sock))]
    assert statuses == [200, 405, 200, 200, 200]


def test_a_pipelined_head_over_the_cap_gets_431_and_ends_the_connection(base_url: str) -> None:
    # The big head begins mid-read, after a request: its exact size still counts.
    get = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    big = b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * (CAP + 100) + b"\r\n\r\n"
    with connect(base_url) as sock:
        sock.sendall(get + big + get)
        statuses = [status for status, _, _ in responses(read_until_closed(sock))]
    # The answer to the first request may be lost with the connection; nothing after the
    # big head is served.
    assert statuses in ([431], [200, 431])


def test_a_pipelined_head_over_the_cap_across_two_writes_gets_431(base_url: str) -> None:
    # The big head begins mid-read (its first read is not counted) and ends in a small one.
    get = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    big = b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * (CAP + 100) + b"\r\n\r\n"
    with connect(base_url) as sock:
        sock.sendall(get + big[:-10])
        time.sleep(0.2)  # lets the server read the first write on its own
        sock.sendall(big[-10:])
        statuses = [status for status, _, _ in responses(read_until_closed(sock))]
    assert statuses in ([431], [200, 431])


def test_serve_caps_heads_by_its_setting_and_keeps_its_memory(tmp_path: Path) -> None:
    """`tessera serve` itself: the setting applies, and a flood leaves its peak RSS flat."""
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
        assert peak_rss(served.process.pid) - before < 16 * MIB


# Heads in time: a connection that sends nothing, or drips its head, is not kept forever -------

HEAD_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def quick_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("head-timeout") / "data"
    service = Tessera(make_settings(data, header_timeout=HEAD_TIMEOUT))
    with in_process_server(service) as url:
        yield url


def test_a_connection_that_sends_nothing_is_closed(quick_url: str) -> None:
    with connect(quick_url) as sock:
        answer, took = closed_within(sock, HEAD_TIMEOUT + 4)
    assert answer == b""  # nothing was asked: nothing to answer
    assert took >= HEAD_TIMEOUT * 0.9


def test_a_head_dripped_past_the_timeout_gets_408(quick_url: str) -> None:
    drip = [b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ", *(b"a" for _ in range(100))]
    answer, sent = attack(quick_url, drip, pause=0.1)
    [(status, headers, body)] = responses(answer)
    assert status == 408 and headers["connection"] == "close"
    assert json.loads(body)["error"] == "request_timeout"
    assert sent < 60  # cut off after about a second of the ten it would have taken


def test_idle_keep_alive_and_slow_bodies_are_not_cut(quick_url: str) -> None:
    """The timer covers heads only: a kept-alive connection may idle between requests (up to
    uvicorn's keep-alive timeout), and a body may take its time."""
    get = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    with connect(quick_url) as sock:
        sock.sendall(get)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        time.sleep(HEAD_TIMEOUT * 1.5)
        sock.sendall(get)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        body = json.dumps({"username": "nobody", "password": "wrong"}).encode()
        sock.sendall(
            b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        for byte in body[:10]:
            sock.sendall(bytes([byte]))
            time.sleep(0.15)
        sock.sendall(body[10:])
        [(status, _, answer)] = responses(read_until_closed(sock))
    assert status == 401, answer
