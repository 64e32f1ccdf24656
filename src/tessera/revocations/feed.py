"""`RevocationFeed`: another service's follower of an auth server's revocation feed.

A background thread long-polls `GET {prefix}/revocations?since=…&wait=…`: the server holds
each request until a session is revoked (or `wait` passes), so a revocation reaches the
follower within milliseconds, at the cost of one idle connection. Verification only ever
reads the in-memory `RevokedSessions`. While the feed is unreachable the follower keeps
what it has, retries with back-off, and reports in `health()` that it is down: revoked
sessions' tokens then live until their `exp`, as they would with no feed at all. Each read is
bounded as a whole (`wait` + `timeout`, and a size cap) and must be strict JSON: a feed that
drips, floods or nests is a failed read like any other.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from typing import Any

import httpx

from tessera.clock import Clock, SystemClock
from tessera.fetch import NO_KEEPALIVE, FetchError, bounded_get
from tessera.logs import redact
from tessera.remote import check_fetch_url, redact_url
from tessera.revocations.revoked import MAX_REVOCATION_WAIT, RevokedSessions
from tessera.tokens.strict_json import StrictJSONError, loads_object

log = logging.getLogger("tessera.revocations")

MAX_PAGE_BYTES = 1 << 20  # a full page (1000 revocations) is under 100 KiB


class FeedError(Exception):
    """The feed answered something other than a revocation page."""


class RevocationFeed:
    def __init__(
        self,
        url: str,
        *,
        clock: Clock | None = None,
        wait: float = 20.0,
        timeout: float = 5.0,
        max_retry_delay: float = 30.0,
        allow_http: bool = False,
        transport: httpx.BaseTransport | None = None,
        start: bool = True,
    ) -> None:
        if not 0 <= wait <= MAX_REVOCATION_WAIT:
            raise ValueError(f"wait must be between 0 and {MAX_REVOCATION_WAIT:.0f} seconds")
        self.url = check_fetch_url(url, "revocation feed", allow_http=allow_http)
        self._clock = clock or SystemClock()
        self.revoked = RevokedSessions(self._clock)
        self._wait, self._timeout = wait, timeout
        self._max_retry_delay = max_retry_delay
        self._client = httpx.Client(transport=transport, limits=NO_KEEPALIVE)
        self._cursor = 0
        self._stop = threading.Event()
        self._synced = threading.Event()
        self._thread: threading.Thread | None = None
        self.healthy = False
        self.last_error: str | None = "not synced yet"
        self.last_success_at: float | None = None
        self.pause = 0.0  # seconds the server asked us to wait before the next poll
        if start:
            self.start()

    # following -------------------------------------------------------------------------------

    def start(self) -> None:
        if self._stop.is_set():
            raise RuntimeError("a closed RevocationFeed cannot be restarted; make a new one")
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name="tessera-revocation-feed", daemon=True
        )
        self._thread.start()

    def close(self, timeout: float = 1.0) -> None:
        """Stop following; final. The thread ends when its current long-poll returns."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        if self._thread is None or not self._thread.is_alive():
            self._client.close()

    def __enter__(self) -> RevocationFeed:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def wait_until_synced(self, timeout: float) -> bool:
        """True once a first page has been read (until then, nothing is known revoked)."""
        return self._synced.wait(timeout)

    def poll(self, wait: float = 0.0) -> int:
        """One round trip (several, when the server has more pages); returns how many sessions
        are newly known revoked. Raises `FeedError`, within `wait` + `timeout` seconds."""
        added = 0
        self.pause = 0.0
        while True:
            try:
                fetched = bounded_get(
                    self._client,
                    self.url,
                    deadline=wait + self._timeout,
                    max_bytes=MAX_PAGE_BYTES,
                    params={"since": str(self._cursor), "wait": f"{wait:g}"},
                )
            except FetchError as exc:
                raise FeedError(f"revocation feed: {exc}") from None
            revoked, cursor, more = _parse_page(fetched.body)
            # A server holding all the long-polls it will answers at once, asking for a pause.
            self.pause = max(self.pause, _retry_after(fetched.headers))
            added += self.revoked.add(revoked)
            # The server's word, even backwards: its database may have been restored, or
            # another replica behind a load balancer is a moment behind (it then resends).
            self._cursor = cursor
            if not more:
                break
            wait = 0.0
        self.healthy, self.last_error = True, None
        self.last_success_at = self._clock.now()
        self._synced.set()
        return added

    def _run(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            try:
                # The first read is the snapshot: answered at once, not held.
                self.poll(self._wait if self._synced.is_set() else 0.0)
                delay = 1.0
                if self.pause:
                    self._stop.wait(self.pause)
            except Exception as exc:  # noqa: BLE001 - whatever the feed sent, keep following
                self._failed(exc)
                self._stop.wait(delay)
                delay = min(delay * 2, self._max_retry_delay)

    def _failed(self, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {redact(str(exc))}"  # httpx errors may quote the URL
        if self.healthy:
            log.warning(
                "revocation feed %s failed (%s); revoked sessions now end at their "
                "tokens' exp until it is back",
                redact_url(self.url),
                error,
            )
        self.healthy = False
        self.last_error = error

    @property
    def following(self) -> bool:
        """Healthy and still running: new revocations arrive."""
        return self.healthy and self._thread is not None and self._thread.is_alive()

    def health(self) -> dict[str, Any]:
        return {
            "url": redact_url(self.url),
            "healthy": self.following,
            # Down: sessions revoked from now on keep working until their tokens' exp (those
            # already known stay refused).
            "mode": "live" if self.following else "exp_only",
            "last_error": self.last_error,
            "last_success_at": self.last_success_at,
            "revoked_sessions": len(self.revoked),
        }


def _retry_after(headers: httpx.Headers) -> float:
    """The server's Retry-After in seconds (0 when absent or not a number), at most the
    longest long-poll: a pause must not stop the following."""
    try:
        seconds = float(headers.get("retry-after", "0"))
    except ValueError:
        return 0.0
    return min(max(seconds, 0.0), MAX_REVOCATION_WAIT) if math.isfinite(seconds) else 0.0


def _parse_page(page: bytes) -> tuple[list[tuple[str, float]], int, bool]:
    try:
        body = loads_object(page)
    except StrictJSONError as exc:
        raise FeedError(f"revocation feed page is not a strict JSON object ({exc})") from None
    items, cursor, more = body.get("revocations"), body.get("cursor"), body.get("more", False)
    if not isinstance(items, list) or type(cursor) is not int or not isinstance(more, bool):
        raise FeedError("revocation feed page lacks revocations, cursor or more")
    revoked: list[tuple[str, float]] = []
    for item in items:
        sid = item.get("sid") if isinstance(item, Mapping) else None
        not_after = item.get("not_after") if isinstance(item, Mapping) else None
        if not isinstance(sid, str) or not isinstance(not_after, int | float):
            raise FeedError("revocation feed entry lacks sid or not_after")
        try:
            when = float(not_after)
        except OverflowError:
            when = math.inf
        if isinstance(not_after, bool) or not math.isfinite(when):
            raise FeedError("revocation feed entry has a bad not_after")
        revoked.append((sid, when))
    return revoked, cursor, more
