"""`RevocationWatch`: the auth server's own follower of the published revocations.

Every replica keeps the revoked sessions of the whole deployment in memory, so its own
protected routes refuse a revoked session's access token with no database call per request.
It reads the store's revocation rows after a cursor: at once after a revocation of its own,
within milliseconds of another replica's (PostgreSQL LISTEN/NOTIFY wakes it), and every
`poll_interval` in any case (SQLite, where the CLI revokes from another process; or a lost
LISTEN connection). The HTTP feed other services follow is served from here too.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from tessera.clock import Clock
from tessera.revocations.cursor import safe_cursor
from tessera.revocations.revoked import RevokedSessions
from tessera.revocations.signal import Signal
from tessera.settings import MAX_LEEWAY
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
        self._cursor = 0
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
            now = self._clock.now()
            added += self.revoked.add((r.session_id, r.not_after) for r in rows)
            cursor = safe_cursor(self._cursor, rows, now)
            moved, self._cursor = cursor > self._cursor, max(cursor, self._cursor)
            if len(rows) < PAGE or not moved:
                break
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
        if self.healthy or self.last_error is None:
            log.warning("following revocations failed: %s: %s", type(exc).__name__, exc)
        self.healthy = False
        self.last_error = f"{type(exc).__name__}: {exc}"

    # the feed --------------------------------------------------------------------------------

    async def page(self, since: int, wait: float = 0.0) -> FeedPage:
        """Revocations after `since`; with `wait`, hold the answer up to that many seconds
        until there is one (a long-poll)."""
        version = self.changed.version
        page = await self._read(since)
        if page.revocations or wait <= 0 or self.closing:
            return page
        if self.changed.version == version:
            await self.changed.wait(wait)
        return await self._read(since)

    async def _read(self, since: int) -> FeedPage:
        rows = await self._store.revocations_after(since, PAGE)
        now = self._clock.now()
        cursor = safe_cursor(since, rows, now)
        alive = [r for r in rows if now <= r.not_after + MAX_LEEWAY]
        more = len(rows) == PAGE and cursor == rows[-1].id
        return FeedPage(alive, cursor, more)

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
