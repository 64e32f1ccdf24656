"""SQLite's refresh path runs on the event loop, but never waits there for the lock."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import sys
from pathlib import Path

import pytest

from tessera.store import DatabaseUnavailable, SessionRecord, SQLStore
from tessera.store.faults import Kind
from tessera.store.migrate import upgrade
from tessera.store.refresh_sqlite import SQLiteRefreshPath
from tessera.store.sqlite_connections import Cursor, SQLiteConnections
from tests.read_only import read_only

pytestmark = pytest.mark.anyio

SESSION = SessionRecord("s1", "alice", "user", 0, 1.0, 999.0, 1.0, None, b"sealed")


async def sqlite_store(path: Path) -> tuple[SQLStore, SQLiteRefreshPath, SQLiteConnections]:
    store = SQLStore.from_url(f"sqlite+aiosqlite:///{path}")
    await upgrade(store.engine)
    await store.create_session(SESSION, b"h" * 32)
    refresh_path = store.refresh_path
    assert isinstance(refresh_path, SQLiteRefreshPath)
    assert isinstance(refresh_path.connections, SQLiteConnections)  # a file: its own sqlite3
    return store, refresh_path, refresh_path.connections


async def test_the_refresh_path_steps_aside_when_another_process_holds_sqlite(
    tmp_path: Path,
) -> None:
    """The inline connection never waits for SQLite's lock: while another connection holds
    it, the try reports busy and changes nothing, and a rotation waits in a worker thread
    while the event loop keeps turning; once free, the rotation commits."""
    store, _, connections = await sqlite_store(tmp_path / "busy.db")

    def advance(cursor: Cursor) -> int:
        return cursor.execute("UPDATE sessions SET generation = generation + 1").rowcount

    blocker = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    assert connections.try_inline(advance, write=True) is None
    rotating = asyncio.create_task(store.rotate("s1", 0, b"i" * 32, b"sealed-2", 2.0))
    for _ in range(100):  # the loop turns: the rotation is not holding it
        await asyncio.sleep(0)
    assert not rotating.done()
    blocker.execute("ROLLBACK")
    blocker.close()
    assert await rotating
    found = await store.find_by_refresh_hash(b"i" * 32)
    assert found is not None and found[1].generation == 1  # the busy try changed nothing
    assert connections.try_inline(advance, write=True) == (1,)
    await store.close()


async def test_a_failed_statement_rolls_back_and_raises_as_the_store_does(tmp_path: Path) -> None:
    """The hot path runs on `sqlite3` itself: a failed transaction leaves nothing behind, an
    outage reaches callers as the store's `DatabaseUnavailable` (a 503), and any other error
    as the driver raised it."""
    store, refresh_path, _ = await sqlite_store(tmp_path / "errors.db")
    with pytest.raises(sqlite3.IntegrityError):  # the same session id twice
        await store.create_session(SESSION, b"i" * 32)
    assert await store.find_by_refresh_hash(b"i" * 32) is None  # its token row rolled back

    def broken(cursor: Cursor) -> None:
        cursor.execute("UPDATE sessions SET generation = 5")
        cursor.execute("SELECT * FROM no_such_table")  # a bug, not an outage: stays a 500

    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await refresh_path.write(broken)
    found = await store.find_by_refresh_hash(b"h" * 32)
    assert found is not None and found[1].generation == 0  # the UPDATE rolled back

    def full(cursor: Cursor) -> None:
        cursor.execute("UPDATE sessions SET generation = 5")
        cursor.execute("PRAGMA max_page_count = 1")  # below the file's size: SQLITE_FULL
        cursor.execute("INSERT INTO audit_events (at, kind) VALUES (1, randomblob(99999))")

    with pytest.raises(DatabaseUnavailable) as caught:
        await refresh_path.write(full)
    assert isinstance(caught.value.cause, sqlite3.OperationalError)
    assert caught.value.kind == "disk_full" and caught.value.headers == {"Retry-After": "2"}
    found = await store.find_by_refresh_hash(b"h" * 32)
    assert found is not None and found[1].generation == 0  # rolled back too
    assert await store.rotate("s1", 0, b"j" * 32, b"sealed-2", 2.0)
    await store.close()


# A process that dies with the database open, as `kill -9` leaves it: its -wal and -shm remain.
KILLED_WRITER = """
import os, signal, sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
conn.execute("PRAGMA user_version = 1")
conn.commit()
os.kill(os.getpid(), signal.SIGKILL)
"""


async def test_connections_opened_on_a_read_only_database_are_not_kept(tmp_path: Path) -> None:
    """Opened on read-only files (-shm included), a store reads and refuses writes as
    `read_only`; the files writable again, the next write succeeds, without a new store.
    SQLite maps the -shm read-only once for every connection of the process: had a connection
    opened during the fault been kept (here the pool's, which only read), no connection of the
    process could ever write again."""
    path = tmp_path / "crashed.db"
    store, _, _ = await sqlite_store(path)
    await store.close()
    killed = await asyncio.create_subprocess_exec(sys.executable, "-c", KILLED_WRITER, str(path))
    await killed.wait()
    files = [path, *(path.with_name(f"{path.name}-{end}") for end in ("wal", "shm"))]
    assert all(f.exists() for f in files)

    store = SQLStore.from_url(f"sqlite+aiosqlite:///{path}")
    gc.disable()  # a connection must be closed when closed, not at the collector's next pass
    try:
        with read_only(*files, tmp_path):
            await upgrade(store.engine)  # reads work
            assert await store.find_by_refresh_hash(b"h" * 32) is not None
            with pytest.raises(DatabaseUnavailable) as refused:
                await store.rotate("s1", 0, b"i" * 32, b"sealed-2", 2.0)
            assert refused.value.kind == Kind.READ_ONLY
        assert await store.rotate("s1", 0, b"i" * 32, b"sealed-2", 2.0)
    finally:
        gc.enable()
        await store.close()
