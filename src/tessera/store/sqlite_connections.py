"""How SQLite's refresh path reaches its database: `Work` (a function of a DB-API cursor) runs
on the file's own `SQLiteConnections`, or else on the store's pool (`PooledSQLite`).

aiosqlite hands every cursor call to its thread and back (about ten hops for one transaction,
each a GIL hand-over on a busy loop). A statement sequence of the refresh path takes SQLite tens
of microseconds, less than one hop; so it runs on the event loop itself, on an inline
connection that never waits for a lock (busy timeout 0). When another process holds the
database, it runs instead in one hop to a worker thread, on a pooled connection that waits for
the lock as usual: the loop is never blocked on a lock.

A database `sqlite3` cannot open a second connection to (in memory: it would be another
database; a `file:` URI) is reached through the store's own pool instead (`PooledSQLite`).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, event
from sqlalchemy.ext.asyncio import AsyncEngine

from tessera.store.engine import SQLITE_BUSY_TIMEOUT_MS, sqlite_pragmas
from tessera.store.faults import DISCARD, kind_of
from tessera.store.sqlite_read_only import keep_no_suspects, suspects_of

WORKER_THREADS = 4


class Cursor(Protocol):
    """What `Work` may use of a cursor: `sqlite3`'s, or SQLAlchemy's adapter of aiosqlite's."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, parameters: Mapping[str, Any], /) -> Any: ...

    def fetchone(self) -> Any: ...


Work = Callable[[Cursor], Any]


def connections_to(engine: AsyncEngine) -> SQLiteConnections | PooledSQLite:
    """The fastest way to `engine`'s SQLite database."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return PooledSQLite(engine)
    return SQLiteConnections(database, engine.url.set(drivername="sqlite"))


class SQLiteConnections:
    """One inline connection and `WORKER_THREADS` waiting ones, all on one SQLite file."""

    def __init__(self, database: str, url: sa.URL) -> None:
        self._pool: Engine = sa.create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            pool_size=WORKER_THREADS,
        )
        event.listen(self._pool, "connect", sqlite_pragmas)
        keep_no_suspects(self._pool, database)
        self._threads = ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="tessera-sqlite")
        self._database = database
        self._suspects = suspects_of(database)
        # Opened at first use, not here: building the store touches no file, so a database
        # that cannot be opened (a read-only file and directory) is met by `start()` inside
        # `as_unavailable()` — `tessera serve` says so in one line — not by `Tessera(...)`,
        # where `sqlite3`'s error escaped as a traceback.
        self._inline: sqlite3.Connection | None = None
        self._inline_suspect = False  # opened while the file could not be written: not kept

    def _connect_inline(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._database, timeout=0, check_same_thread=False)
        try:
            # Per-connection settings only (none takes a lock): WAL is the file's, set by the
            # pool's connections before any refresh can run.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=0")
        except BaseException:
            conn.close()
            raise
        self._inline_suspect = self._suspects.opened()
        return conn

    async def run(self, work: Work, *, write: bool) -> Any:
        """`work`'s result: inline when SQLite is free at once, else in a worker thread. A
        write runs in one transaction; the caller holds the process's write lock."""
        done = self.try_inline(work, write=write)
        return done[0] if done is not None else await self.in_thread(work, write=write)

    def try_inline(self, work: Work, *, write: bool) -> tuple[Any] | None:
        """`(result,)` from the inline connection, or None when SQLite was busy (nothing was
        changed: a write takes the lock before `work` runs)."""
        try:
            conn = self._inline
            if conn is None:
                conn = self._inline = self._connect_inline()
            result = in_transaction(conn, work) if write else reading(conn, work)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                if kind_of(exc) in DISCARD:
                    # It may be spoiled (opened on a read-only file, an I/O error): the next
                    # call opens a fresh one, so the file works again as soon as it is fixed.
                    self._close_inline()
                raise
            return None
        finally:
            if self._inline_suspect:
                self._close_inline()  # see `sqlite_read_only`
        return (result,)

    def _close_inline(self) -> None:
        conn, self._inline = self._inline, None
        if conn is None:
            return
        conn.close()
        if self._inline_suspect:
            self._inline_suspect = False
            self._suspects.closed()

    async def in_thread(self, work: Work, *, write: bool) -> Any:
        """`work`'s result from a pooled connection in a worker thread (waiting for the lock
        up to the busy timeout)."""
        pool = self._pool

        def run() -> Any:
            raw = pool.raw_connection()
            try:
                conn: sqlite3.Connection = raw.driver_connection  # type: ignore[assignment]
                return in_transaction(conn, work) if write else reading(conn, work)
            except Exception as exc:
                if kind_of(exc) in DISCARD:
                    raw.invalidate(exc)  # as the inline connection's
                raise
            finally:
                raw.close()

        return await asyncio.get_running_loop().run_in_executor(self._threads, run)

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        self._pool.dispose()
        self._close_inline()


class PooledSQLite:
    """`Work` on a connection of the store's pool (aiosqlite, through SQLAlchemy's adapter)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def run(self, work: Work, *, write: bool) -> Any:
        """`work`'s result; a write in one transaction (the caller holds the write lock)."""

        def on(conn: Connection) -> Any:
            return work(conn.connection.cursor())

        async with self._engine.begin() if write else self._engine.connect() as conn:
            return await conn.run_sync(on)

    def close(self) -> None:
        """Nothing of its own: the store disposes of its pool."""


def in_transaction(conn: sqlite3.Connection, work: Work) -> Any:
    """`work` in one write transaction, taking the write lock up front (so a busy database
    fails at BEGIN, before anything ran)."""
    cursor = conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(cursor)
    except BaseException:
        cursor.close()  # see `reading`
        conn.rollback()
        raise
    conn.commit()
    return result


def reading(conn: sqlite3.Connection, work: Work) -> Any:
    """`work` on a new cursor of `conn`. A cursor that raised is closed at once: the
    exception's traceback would keep it alive until the garbage collector's next pass, and
    with it its statement, which keeps SQLite's files open after `conn.close()` — and a
    connection opened read-only, open, keeps the database read-only for every connection of
    the process (see `sqlite_read_only`)."""
    cursor = conn.cursor()
    try:
        return work(cursor)
    except BaseException:
        cursor.close()
        raise
