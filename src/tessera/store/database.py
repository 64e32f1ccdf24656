"""`Database`: one engine, and the two ways the store's queries use it — a connection to read,
a transaction to write — both with outages raised as `DatabaseUnavailable`.

Which engine it is is read once, here: `postgres` turns on what only PostgreSQL has (advisory
locks, NOTIFY/LISTEN), and on SQLite this process's writers queue on a lock of their own.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tessera.store.faults import DISCARD, as_unavailable, kind_of


class Database:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        # SQLite allows one writer at a time; connections that contend for it back off in
        # sleeps of up to 100 ms. Queueing this process's writers here avoids that entirely
        # (one lock per event loop: a lock cannot be shared between loops).
        self._write_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] | None
        self._write_locks = weakref.WeakKeyDictionary() if engine.dialect.name == "sqlite" else None

    def write_lock(self) -> AbstractAsyncContextManager[object]:
        """Held by every writer of this process on SQLite (a no-op elsewhere)."""
        if self._write_locks is None:
            return nullcontext()
        loop = asyncio.get_running_loop()
        lock = self._write_locks.get(loop)
        if lock is None:
            lock = self._write_locks[loop] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection (reads; or statements that commit themselves)."""
        with as_unavailable():
            async with self.engine.connect() as conn, discarded_after_a_fault(conn):
                yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection in one transaction, committed when the block ends without an error."""
        with as_unavailable():
            async with (
                self.write_lock(),
                self.engine.begin() as conn,
                discarded_after_a_fault(conn),
            ):
                yield conn

    async def close(self) -> None:
        await self.engine.dispose()


@asynccontextmanager
async def discarded_after_a_fault(conn: AsyncConnection) -> AsyncIterator[None]:
    """`conn` leaves the pool if the block meets a fault that may have spoiled it (`DISCARD`):
    the pool opens a fresh one for the next caller."""
    try:
        yield
    except Exception as exc:
        if kind_of(exc) in DISCARD and not conn.invalidated:
            await conn.invalidate(exc)
        raise
