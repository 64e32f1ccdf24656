"""Each engine's refresh path: picked once when the store is built, and its own spelling of
the compare-and-set holds on that engine (SQLite: the Core statements compiled for `sqlite3`,
on a file's own connections or, in memory, on the pool's; PostgreSQL: one statement on
asyncpg)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tessera.store import AuditEvent, SessionRecord, SQLStore
from tessera.store.migrate import upgrade
from tessera.store.refresh_postgres import PostgresRefreshPath
from tessera.store.refresh_sqlite import SQLiteRefreshPath
from tessera.store.sqlite_connections import PooledSQLite, SQLiteConnections
from tests.services import fresh_database

pytestmark = pytest.mark.anyio

ENGINES = {  # how each reaches its database: (refresh path, connections)
    "sqlite file": (SQLiteRefreshPath, SQLiteConnections),
    "sqlite in memory": (SQLiteRefreshPath, PooledSQLite),
    "postgresql": (PostgresRefreshPath, None),
}
LOGIN = AuditEvent(1.0, "login", "alice", "s1", "10.0.0.1", "first")
SESSION = SessionRecord("s1", "alice", "user", 0, 1.0, 999.0, 1.0, None, b"sealed", ip="10.0.0.1")


@pytest.fixture(params=ENGINES)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite file":
        yield f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    elif request.param == "sqlite in memory":
        yield "sqlite+aiosqlite:///:memory:"
    else:
        with fresh_database() as pg_url:
            yield pg_url.replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture
async def store(url: str) -> AsyncIterator[SQLStore]:
    store = SQLStore.from_url(url)
    await upgrade(store.engine)
    await store.create_session(SESSION, b"g" * 32, LOGIN)
    yield store
    await store.close()


async def test_each_engine_has_its_refresh_path(
    store: SQLStore, request: pytest.FixtureRequest
) -> None:
    path, connections = ENGINES[request.node.callspec.params["url"]]
    assert type(store.refresh_path) is path
    if connections is not None:
        assert type(getattr(store.refresh_path, "connections", None)) is connections


async def test_rotation_is_a_compare_and_set(store: SQLStore) -> None:
    """The successor and the audit row exist only when the session advanced; a stale
    generation or a revoked session changes nothing."""
    audit = AuditEvent(100.0, "refresh", "alice", "s1", "10.0.0.2", "second", "generation 1")
    assert await store.rotate("s1", 0, b"h" * 32, b"sealed-1", 100.0, audit)
    assert not await store.rotate("s1", 0, b"i" * 32, b"sealed-x", 101.0, audit)  # stale
    session = await store.get_session("s1")
    assert session is not None
    assert (session.generation, session.sealed_token, session.rotated_at) == (1, b"sealed-1", 100)
    assert (session.ip, session.user_agent, session.last_used_at) == ("10.0.0.2", "second", 100)
    assert await store.find_by_refresh_hash(b"i" * 32) is None
    found = await store.find_by_refresh_hash(b"h" * 32)
    assert found is not None and found[0] == 1 and found[1] == session
    assert type(found[1].sealed_token) is bytes and type(session.sealed_token) is bytes
    previous = await store.find_by_refresh_hash(b"g" * 32)
    assert previous is not None and previous[0] == 0  # the token it was issued for
    assert await store.rotate("s1", 1, b"j" * 32, b"sealed-2", 102.0)  # no audit: no address
    session = await store.get_session("s1")
    assert session is not None and (session.generation, session.ip) == (2, "10.0.0.2")
    await store.revoke_session("s1", 103.0, "logout", not_after=1000.0)
    assert not await store.rotate("s1", 2, b"k" * 32, b"sealed-3", 104.0, audit)  # revoked
    assert await store.find_by_refresh_hash(b"k" * 32) is None
    assert [e.kind for e in await store.list_audit("s1")] == ["login", "refresh"]


async def test_concurrent_rotations_from_one_generation_have_one_winner(store: SQLStore) -> None:
    won = await asyncio.gather(
        *(store.rotate("s1", 0, bytes([n]) * 32, b"sealed", 2.0) for n in range(10))
    )
    assert won.count(True) == 1
    session = await store.get_session("s1")
    assert session is not None and session.generation == 1
    winner = won.index(True)
    assert [await store.find_by_refresh_hash(bytes([n]) * 32) is not None for n in range(10)] == [
        n == winner for n in range(10)
    ]


async def test_revoking_a_subject_can_keep_one_session(store: SQLStore) -> None:
    """ "Sign out other devices": every live session of the subject but the caller's own."""
    for sid, subject in (("s2", "alice"), ("s3", "alice"), ("b1", "bob")):
        record = replace(SESSION, id=sid, subject=subject)
        await store.create_session(record, sid.encode() * 16)
    count = await store.revoke_subject_sessions(
        "alice", 50.0, "signed_out_elsewhere", not_after=500.0, keep="s2"
    )
    assert count == 2
    live = {s.id for s in await store.list_sessions(None, 50.0)}
    assert live == {"s2", "b1"}
    published = {r.session_id for r in await store.revocations_after(0, 10)}
    assert published == {"s1", "s3"}
