"""SQLite's refresh path runs on the event loop, but never waits there for the lock."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tessera.store import DatabaseUnavailable, SessionRecord, SQLStore
from tessera.store.migrate import upgrade

pytestmark = pytest.mark.anyio


async def test_the_refresh_path_steps_aside_when_another_process_holds_sqlite(
    tmp_path: Path,
) -> None:
    """The inline connection never waits for SQLite's lock: while another connection holds
    it, the try reports busy and changes nothing (the caller then waits in a worker thread);
    once free, the same rotation commits."""
    store = SQLStore.from_url(f"sqlite+aiosqlite:///{tmp_path / 'busy.db'}")
    await upgrade(store.engine)
    session = SessionRecord("s1", "alice", "user", 0, 1.0, 999.0, 1.0, None, b"sealed")
    await store.create_session(session, b"h" * 32)

    def advance(cursor: sqlite3.Cursor) -> int:
        return cursor.execute("UPDATE sessions SET generation = 1").rowcount

    blocker = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    assert store._inline_try(advance, write=True) is None
    blocker.execute("ROLLBACK")
    blocker.close()
    found = await store.find_by_refresh_hash(b"h" * 32)
    assert found is not None and found[1].generation == 0  # nothing changed
    assert store._inline_try(advance, write=True) == (1,)
    assert await store.rotate("s1", 1, b"i" * 32, b"sealed-2", 2.0)
    await store.close()


async def test_a_failed_statement_rolls_back_and_raises_as_the_store_does(tmp_path: Path) -> None:
    """The hot path runs on `sqlite3` itself: a failed transaction leaves nothing behind, an
    outage reaches callers as the store's `DatabaseUnavailable` (a 503), and any other error
    as the driver raised it."""
    store = SQLStore.from_url(f"sqlite+aiosqlite:///{tmp_path / 'errors.db'}")
    await upgrade(store.engine)
    session = SessionRecord("s1", "alice", "user", 0, 1.0, 999.0, 1.0, None, b"sealed")
    await store.create_session(session, b"h" * 32)
    with pytest.raises(sqlite3.IntegrityError):  # the same session id twice
        await store.create_session(session, b"i" * 32)
    assert await store.find_by_refresh_hash(b"i" * 32) is None  # its token row rolled back

    def broken(cursor: sqlite3.Cursor) -> None:
        cursor.execute("UPDATE sessions SET generation = 5")
        cursor.execute("SELECT * FROM no_such_table")

    with pytest.raises(DatabaseUnavailable) as caught:
        await store._in_thread(broken, write=True)
    assert isinstance(caught.value.cause, sqlite3.OperationalError)
    assert caught.value.headers == {"Retry-After": "2"}
    found = await store.find_by_refresh_hash(b"h" * 32)
    assert found is not None and found[1].generation == 0  # the UPDATE rolled back
    assert await store.rotate("s1", 0, b"j" * 32, b"sealed-2", 2.0)
    await store.close()
