"""Pipelined requests are queued, but not without end (issue 15's review, finding 3): a
connection may have 16 requests waiting behind the one being answered; one more and the server
stops reading, answers those it has, and closes. Streaming `GET /healthz` without reading the
answers grew the server by 2.1 GB. Raw sockets against real servers."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tessera import Tessera
from tests.conftest import make_settings
from tests.live import LISTENING, in_process_server, serve
from tests.raw_http import GET, MIB, TIMEOUT, connect, flood, peak_rss, read_until_closed, statuses

pytestmark = pytest.mark.slow

QUEUED = 16
LAST = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    service = Tessera(make_settings(tmp_path_factory.mktemp("pipelining") / "data"))
    with in_process_server(service) as url:
        yield url


def test_a_full_queue_is_all_answered(base_url: str) -> None:
    # one write, so one read: the first is answered while the other 16 wait behind it
    with connect(base_url) as sock:
        sock.sendall(GET * QUEUED + LAST)
        assert statuses(read_until_closed(sock)) == [200] * (QUEUED + 1)


def test_ordinary_pipelining_goes_on_and_on(base_url: str) -> None:
    # a few at a time, answers read in between: the cap is on what waits, not on the total
    with connect(base_url) as sock:
        for _ in range(20):
            sock.sendall(GET * 4)
            received = b""
            while received.count(b"HTTP/1.1 200") < 4:
                received += sock.recv(65536)
        sock.sendall(LAST)
        assert statuses(read_until_closed(sock)) == [200]


def test_one_request_too_many_ends_the_connection(base_url: str) -> None:
    # 2 000 requests in one write (two reads at most): the server queues 16 behind the
    # first, answers those 17 and closes; the rest are never parsed.
    with connect(base_url) as sock:
        sock.sendall(GET * 2000)
        answered = statuses(read_until_closed(sock))
    assert answered == [200] * len(answered) and len(answered) <= QUEUED + 1


def test_a_pipeline_flood_is_cut_off(base_url: str) -> None:
    """The reviewer's attack: requests streamed back to back, answers never read."""
    sent = flood(base_url, b"", GET * (65536 // len(GET)), 64 * MIB)
    assert sent < 24 * MIB, f"{sent} bytes sent before the server closed"


def test_serve_keeps_its_memory_under_pipeline_floods(tmp_path: Path) -> None:
    with serve(tmp_path / "data") as served:
        url = served.expect(LISTENING).group(1)
        with httpx.Client(base_url=url, timeout=TIMEOUT) as http:
            for _ in range(50):
                assert http.get("/healthz").status_code == 200
        with connect(url) as sock:  # warm up the queueing path too
            sock.sendall(GET * QUEUED + LAST)
            read_until_closed(sock)
        before = peak_rss(served.process.pid)
        block = GET * (65536 // len(GET))
        with ThreadPoolExecutor(3) as pool:
            sent = list(pool.map(lambda _: flood(url, b"", block, 30 * MIB), range(3)))
        assert max(sent) < 24 * MIB, sent
        assert peak_rss(served.process.pid) - before < 16 * MIB
