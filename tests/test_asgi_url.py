"""`proof_target` remembers what the slow way answers (Starlette's URL, split again), keyed by
everything that URL is made of: for every kind of request, first and second time alike, and
never more than its cache holds."""

from __future__ import annotations

import itertools

import pytest
from starlette.requests import HTTPConnection

from tessera.verify import asgi_url
from tessera.verify.asgi_url import proof_target
from tessera.verify.credentials import request_url

HOSTS = [None, b"api.example.com", b"API.Example.COM:443", b"[::1]:8000", b"a/b", b"u@h", b"h:x"]
SERVERS = [None, ("10.0.0.1", 80), ["::1", 8443]]
PATHS = ["/auth/refresh", "/a%2Fb/é", "/x?y#z", "//double", "/"]
QUERIES = [b"", b"a=1", b"%3F#frag"]
PUBLIC = [None, "https://auth.example.com/base/"]
ROOT_PATHS = ["", "/mounted"]  # not part of Starlette's URL today: the test says if it becomes


def connection(
    scheme: str,
    host: bytes | None,
    server: tuple[str, int] | list[object] | None,
    path: str,
    query: bytes,
    root_path: str = "",
) -> HTTPConnection:
    headers = [(b"host", host)] if host is not None else []
    return HTTPConnection(
        {
            "type": "http",
            "scheme": scheme,
            "server": server,
            "path": path,
            "root_path": root_path,
            "query_string": query,
            "headers": [*headers, (b"host", b"second.example")],
        }
    )


def slow_way(conn: HTTPConnection, public_url: str | None) -> str:
    return request_url(str(conn.url), conn.url.path, public_url)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_answer_is_the_slow_ways_every_time(scheme: str) -> None:
    for host, server, path, query, public, root in itertools.product(
        HOSTS, SERVERS, PATHS, QUERIES, PUBLIC, ROOT_PATHS
    ):
        conn = connection(scheme, host, server, path, query, root)
        expected = slow_way(conn, public)
        assert proof_target(conn, public) == expected
        again = connection(scheme, host, server, path, query, root)
        assert proof_target(again, public) == expected


def test_the_cache_stays_within_its_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(asgi_url, "CACHE_SIZE", 8)
    monkeypatch.setattr(asgi_url, "_targets", {})
    for n in range(50):
        conn = connection("https", b"h", None, f"/p{n}", b"")
        assert proof_target(conn, None) == f"https://h/p{n}"
    assert 0 < len(asgi_url._targets) <= 8


def test_an_outsized_host_or_path_is_answered_and_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(asgi_url, "_targets", {})
    long_host = b"h" * 5000
    conn = connection("https", long_host, None, "/auth/refresh", b"")
    assert proof_target(conn, None) == slow_way(conn, None)
    conn = connection("https", b"h", None, "/" + "p" * 5000, b"")
    assert proof_target(conn, None) == slow_way(conn, None)
    assert asgi_url._targets == {}
