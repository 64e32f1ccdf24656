"""One GET of a configured URL (a JWKS, a revocation-feed page), bounded as a whole.

httpx's timeouts bound each network operation, not the request: a server sending one byte a
second never trips a 5 s read timeout, and holds its caller for as long as it likes. Here the
request runs in a worker thread that the caller waits for at most `deadline` seconds, from
connect to last byte; past it the caller gets `FetchError` and the connection is shut down
under the worker, so no reader is left behind. The body is read as a stream and abandoned
past `max_bytes`, counted on the wire: an answer in any `Content-Encoding` but identity is
refused unread (a few hundred gzipped bytes can expand to gigabytes, all in one decode call),
and the body is read raw, so nothing is ever decompressed. Credentials in the URL are sent as
Basic auth and kept out of the URL httpx logs.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import httpx

# Each request on its own connection: the one the deadline shuts down is never a pooled one
# another request could pick up.
NO_KEEPALIVE = httpx.Limits(max_keepalive_connections=0)


class FetchError(Exception):
    """No complete, acceptable answer: unreachable, not 200, too slow or too large."""


@dataclass(frozen=True)
class Fetched:
    headers: httpx.Headers
    body: bytes


def bounded_get(
    client: httpx.Client,
    url: str,
    *,
    deadline: float,
    max_bytes: int,
    accept: str = "application/json",
    params: Mapping[str, str] | None = None,
) -> Fetched:
    """The 200 answer's headers and body, or `FetchError`. Never blocks past `deadline`."""
    attempt = _Attempt(time.monotonic() + deadline, max_bytes)
    try:
        target, auth = _without_credentials(url)
        request = client.build_request(
            "GET",
            target,
            params=params,
            headers={"Accept": accept, "Accept-Encoding": "identity"},
            timeout=deadline,
            extensions={"trace": attempt.trace},
        )
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise FetchError("unusable URL") from exc
    worker = threading.Thread(
        target=attempt.run, args=(client, request, auth), name="tessera-fetch", daemon=True
    )
    worker.start()
    if not attempt.done.wait(deadline):
        attempt.abandon()
        raise FetchError(f"no complete answer within {deadline:g} s")
    return attempt.result()


class _Attempt:
    """One request on its worker thread: its outcome, and its socket for `abandon`."""

    def __init__(self, stop_at: float, max_bytes: int) -> None:
        self.stop_at, self.max_bytes = stop_at, max_bytes
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._abandoned = False
        self._outcome: Fetched | Exception = FetchError("no answer")

    def trace(self, event: str, info: Mapping[str, Any]) -> None:
        """httpcore's trace hook: remember each new connection's socket."""
        if event != "connection.connect_tcp.complete":
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with self._lock:
                self._sockets.append(sock)
                if self._abandoned:
                    _shut(sock)

    def abandon(self) -> None:
        """Past the deadline: wake the worker's blocked read by shutting its socket down."""
        with self._lock:
            self._abandoned = True
            for sock in self._sockets:
                _shut(sock)

    def run(self, client: httpx.Client, request: httpx.Request, auth: httpx.Auth | None) -> None:
        try:
            self._outcome = self._read(client, request, auth)
        except FetchError as exc:
            self._outcome = exc
        except Exception as exc:  # noqa: BLE001 - anything the far end caused is a failed fetch
            self._outcome = FetchError(f"{type(exc).__name__}: {exc}")
        finally:
            self.done.set()

    def _read(
        self, client: httpx.Client, request: httpx.Request, auth: httpx.Auth | None
    ) -> Fetched:
        response = client.send(request, auth=auth, stream=True, follow_redirects=False)
        try:
            if response.status_code != 200:
                raise FetchError(f"answered HTTP {response.status_code}")
            _refuse_encoded(response.headers)
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > self.max_bytes:
                raise FetchError(f"answer larger than {self.max_bytes} bytes")
            body = bytearray()
            for chunk in _raw_body(response):
                body += chunk
                if len(body) > self.max_bytes:
                    raise FetchError(f"answer larger than {self.max_bytes} bytes")
                if self._abandoned or time.monotonic() > self.stop_at:
                    raise FetchError("answer too slow")
            return Fetched(response.headers, bytes(body))
        finally:
            response.close()

    def result(self) -> Fetched:
        if isinstance(self._outcome, Exception):
            raise self._outcome
        return self._outcome


def _raw_body(response: httpx.Response) -> Iterator[bytes]:
    """The body as sent, never `iter_bytes` (it decompresses). A transport that hands over a
    body already in memory (`httpx.MockTransport`) has nothing left to stream: that is it."""
    if response.is_stream_consumed:
        yield response.content
    else:
        yield from response.iter_raw()


def _refuse_encoded(headers: httpx.Headers) -> None:
    """We asked for identity; an answer in any other encoding is refused before its body."""
    codings = [c.strip().lower() for c in headers.get_list("content-encoding", split_commas=True)]
    encoded = [c for c in codings if c not in ("", "identity")]
    if encoded:
        shown = ", ".join(encoded)[:40]  # the far end's words: kept short
        raise FetchError(f"answer has Content-Encoding {shown!r}; only identity is accepted")


def _shut(sock: socket.socket) -> None:
    with suppress(OSError):  # already closed: nothing left to wake
        sock.shutdown(socket.SHUT_RDWR)


def _without_credentials(url: str) -> tuple[httpx.URL, httpx.Auth | None]:
    """The URL without user-info (httpx logs request URLs), and that user-info as Basic auth."""
    parsed = httpx.URL(url)
    if not parsed.userinfo:
        return parsed, None
    auth = httpx.BasicAuth(parsed.username, parsed.password)
    return parsed.copy_with(username=None, password=None), auth
