"""`RevocationWatch`: the auth server's own follower of the published revocations.

Every replica keeps the revoked sessions of the whole deployment in memory, so its own
protected routes refuse a revoked session's access token with no database call per request.
It reads the store's revocation rows after a cursor: at once after a revocation of its own,
within milliseconds of another replica's (PostgreSQL LISTEN/NOTIFY wakes it), and every
`poll_interval` in any case (SQLite, where the CLI revokes from another process; or a lost
LISTEN connection). Rows commit in id order (the store serialises revocations), so the cursor
is simply the last id read.

The HTTP feed other services follow is answered from the same memory — the rows whose tokens
may still be alive, in id order — so a thousand long-polls woken by one revocation cost no
database read at all.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from tessera.clock import Clock
from tessera.logs import redact
from tessera.revocations.revoked import MAX_LEEWAY, PRUNE_EVERY, RevokedSessions
from tessera.revocations.signal import Signal
from tessera.store import Revocation, Store

log = logging.getLogger("tessera.revocations")

PAGE = 1000  # revocations per read, and per feed response
RELISTEN_AFTER = 5.0  # seconds of polling only, after the LISTEN connection failed


@dataclass(frozen=True)
class FeedPage:
    """One response of the revocation feed: revocations past the caller's cursor whose tokens
    may still be alive, and the cursor to send next time."""

    revocations: list[Revocation]
    cursor: int
    more: bool


class RevocationWatch:
    def __init__(self, store: Store, clock: Clock, *, poll_interval: float) -> None:
        self._store = store
        self._clock = clock
        self._poll_interval = poll_interval
        self.revoked = RevokedSessions(clock)
        self.changed = Signal()  # fired when revocations new to this process arrive
        self._cursor = 0  # the last revocation id read
        self._log: list[Revocation] = []  # rows whose tokens may be alive, in id order
        self._log_pruned_at = clock.now()
        self._task: asyncio.Task[None] | None = None
        self.closing = False
        self.pushing = False  # a LISTEN connection is up (PostgreSQL)
        self.healthy = False
        self.last_error: str | None = None
        self.synced_at: float | None = None

    # following the store ---------------------------------------------------------------------

    async def sync(self) -> int:
        """Read what was published since the last sync and apply it; returns how many
        sessions are newly known to be revoked."""
        added = 0
        while True:
            rows = await self._store.revocations_after(self._cursor, PAGE)
            fresh = [r for r in rows if r.id > self._cursor]  # a concurrent sync got the rest
            if fresh:
                self._cursor = fresh[-1].id
                self._log.extend(fresh)
                added += self.revoked.add((r.session_id, r.not_after) for r in fresh)
            if len(rows) < PAGE:
                break
        now = self._clock.now()
        if now - self._log_pruned_at >= PRUNE_EVERY:
            self._log = [r for r in self._log if now <= r.not_after + MAX_LEEWAY]
            self._log_pruned_at = now
        self.synced_at, self.healthy, self.last_error = now, True, None
        if added:
            self.changed.fire()
        return added

    async def published(self) -> None:
        """A revocation was just committed here: apply it before the request is answered
        (if the read fails, the next round of following applies it)."""
        try:
            await self.sync()
        except Exception as exc:  # noqa: BLE001 - the revocation itself has committed
            self._failed(exc)

    def follow(self) -> None:
        """Keep following from the running event loop. Idempotent and cheap: the server calls
        it on every request, so an app that never ran the lifespan still follows."""
        task = self._task
        if task is not None and not task.done() and not task.get_loop().is_closed():
            return
        self._task = asyncio.get_running_loop().create_task(
            self._follow(), name="tessera-revocations"
        )

    async def stop(self) -> None:
        self.drain()
        task, self._task = self._task, None
        if task is None or task.done():
            return
        if task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        elif not task.get_loop().is_closed():
            task.get_loop().call_soon_threadsafe(task.cancel)

    def drain(self) -> None:
        """The server is shutting down: answer every waiting long-poll now."""
        self.closing = True
        self.changed.fire()

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        wakeup = asyncio.Event()
        lost = asyncio.Event()

        def wake() -> None:
            loop.call_soon_threadsafe(wakeup.set)

        def on_lost() -> None:
            loop.call_soon_threadsafe(lost.set)
            wake()

        while True:
            lost.clear()
            try:
                async with self._store.revocation_notices(wake, on_lost) as pushing:
                    self.pushing = pushing
                    while not lost.is_set():
                        await self._round(wakeup)
                    log.warning("revocation notices lost; polling until they are back")
            except Exception as exc:  # noqa: BLE001 - no listener: poll, then try again
                self._failed(exc)
            self.pushing = False
            deadline = loop.time() + RELISTEN_AFTER
            while loop.time() < deadline:
                await self._round(wakeup)

    async def _round(self, wakeup: asyncio.Event) -> None:
        wakeup.clear()  # a notice arriving during the sync triggers another one
        try:
            await self.sync()
        except Exception as exc:  # noqa: BLE001 - the database may be down; retry next round
            self._failed(exc)
        with suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), self._poll_interval)

    def _failed(self, exc: BaseException) -> None:
        # A driver's message may quote the database URL: never its password (nor in health()).
        error = f"{type(exc).__name__}: {redact(str(exc))}"
        if self.healthy or self.last_error is None:
            log.warning("following revocations failed: %s", error)
        self.healthy = False
        self.last_error = error

    # the feed --------------------------------------------------------------------------------

    async def page(self, since: int, wait: float = 0.0) -> FeedPage:
        """Revocations after `since`; with `wait`, hold the answer up to that many seconds
        until there is one (a long-poll). A cursor this process has not reached — another
        replica's, or one from before the database was restored — gets the whole list."""
        page = self._page(since)
        if page.revocations or wait <= 0 or self.closing:
            return page
        await self.changed.wait(wait)
        return self._page(since)

    def _page(self, since: int) -> FeedPage:
        if since > self._cursor:
            since = 0
        now = self._clock.now()
        start = bisect.bisect_right(self._log, since, key=lambda r: r.id)
        rows = [r for r in self._log[start : start + PAGE] if now <= r.not_after + MAX_LEEWAY]
        more = len(self._log) - start > PAGE
        cursor = self._log[start + PAGE - 1].id if more else self._cursor
        return FeedPage(rows, cursor, more)

    def health(self) -> dict[str, Any]:
        task = self._task
        return {
            "following": task is not None and not task.done(),
            "notices": self.pushing,
            "healthy": self.healthy,
            "revoked_sessions": len(self.revoked),
            "cursor": self._cursor,
            "last_error": self.last_error,
        }
