"""The same service on PostgreSQL: migrations, the refresh state machine, concurrency."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tessera import ManualClock, Tessera, create_app
from tessera.sessions import ClientInfo
from tessera.store import SQLStore
from tessera.store.schema import metadata
from tests.conftest import PASSWORD, make_settings
from tests.helpers import assert_error, login, refresh
from tests.services import SECRET, pg_url  # noqa: F401 - fixture

pytestmark = pytest.mark.anyio


def pg_settings(tmp_path: Path, url: str, **overrides: object):  # type: ignore[no-untyped-def]
    return make_settings(tmp_path / "d", database_url=url, secret=SECRET, **overrides)


async def test_migrations_match_the_schema_on_postgres(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    service = Tessera(pg_settings(tmp_path, pg_url))
    await service.start()
    store = service.store
    assert isinstance(store, SQLStore)

    def diff(connection: sa.Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []
    await service.close()


async def test_refresh_state_machine_on_postgres(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    clock = ManualClock()
    service = Tessera(pg_settings(tmp_path, pg_url), clock=clock)
    await service.start()
    await service.users.add("alice", PASSWORD)
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
        tokens = await login(client)
        rotated = (await refresh(client, tokens["refresh_token"])).json()
        clock.advance(5)
        replay = await refresh(client, tokens["refresh_token"])
        assert replay.json()["refresh_token"] == rotated["refresh_token"]  # grace
        responses = await asyncio.gather(
            *(refresh(client, rotated["refresh_token"]) for _ in range(20))
        )
        assert {r.status_code for r in responses} == {200}
        assert len({r.json()["refresh_token"] for r in responses}) == 1  # one rotation
        clock.advance(11)
        assert_error(await refresh(client, tokens["refresh_token"]), 401, "invalid_grant")
        newest = responses[0].json()["refresh_token"]
        assert_error(await refresh(client, newest), 401, "invalid_grant")  # family revoked
        events = await service.store.list_audit(tokens["session_id"])
        assert [e.kind for e in events if e.kind == "refresh_token_reuse"] == [
            "refresh_token_reuse"
        ]
    await service.close()


async def test_two_services_starting_together_make_one_key(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    services = [Tessera(pg_settings(tmp_path / str(n), pg_url)) for n in range(4)]
    await asyncio.gather(*(s.start() for s in services))
    kids = {s.keys.signing_key().kid for s in services}
    assert len(kids) == 1
    assert [k.state for k in await services[0].store.list_keys()] == ["active"]
    for s in services:
        await s.close()


async def test_a_rotation_cancelled_mid_statement_leaves_the_pool_usable(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The refresh path runs on the driver's connection itself; a request cancelled while its
    statement waits must not leave that connection busy for the next request."""
    service = Tessera(pg_settings(tmp_path, pg_url, db_pool_size=1, db_max_overflow=0))
    await service.start()
    store = service.store
    assert isinstance(store, SQLStore)
    issued = await service.sessions.open("alice", "user", ClientInfo(None, None))
    sid = issued.session.id
    holder = await asyncpg.connect(pg_url)
    try:
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute("SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE", sid)
        waiting = asyncio.create_task(store.rotate(sid, 0, b"h" * 32, b"s", 1.0, None))
        blocked = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        for _ in range(500):  # until the UPDATE waits for the row lock
            if await holder.fetchval(blocked):
                break
            await asyncio.sleep(0.01)
        assert not waiting.done()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await transaction.rollback()
    finally:
        await holder.close()
    # The pool's one connection is usable again (asyncpg cancelled the statement). Whether
    # the cancelled rotation committed first is the server's race, as for any cancelled
    # request; either way the session rotates on from where it stands.
    current = await store.get_session(sid)
    assert current is not None
    assert await store.rotate(sid, current.generation, b"i" * 32, b"s", 2.0, None)
    found = await store.find_by_refresh_hash(b"i" * 32)
    assert found is not None and found[0] == current.generation + 1
    await service.close()
