"""Garbage collection: ended sessions and old audit rows go, in batches; tables stay flat."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from tessera import ManualClock, Tessera
from tessera.maintenance import collect_garbage
from tessera.sessions import ClientInfo
from tessera.store import SQLStore
from tessera.store.schema import audit_events, refresh_tokens, sessions
from tests.conftest import make_settings
from tests.live import COMMAND
from tests.services import SECRET, pg_url  # noqa: F401 - fixture

pytestmark = pytest.mark.anyio
DAY = 86400.0
CLIENT = ClientInfo()


async def counts(service: Tessera) -> tuple[int, int, int]:
    store = service.store
    assert isinstance(store, SQLStore)
    found = []
    async with store.engine.connect() as conn:
        for table in (sessions, refresh_tokens, audit_events):
            query = sa.select(sa.func.count()).select_from(table)
            found.append((await conn.execute(query)).scalar_one())
    return found[0], found[1], found[2]


async def test_gc_purges_only_what_has_ended(tmp_path: Path) -> None:
    clock = ManualClock()
    service = Tessera(make_settings(tmp_path / "d", gc_batch=2), clock=clock)
    await service.start()
    live = await service.sessions.open("alive", "user", CLIENT)
    revoked = await service.sessions.open("gone", "user", CLIENT)
    await service.sessions.revoke(revoked.session.id, "logout", CLIENT)
    idle = [await service.sessions.open(f"idle{n}", "user", CLIENT) for n in range(5)]
    clock.advance(10 * DAY)
    live = await service.sessions.refresh(live.refresh_token, CLIENT)
    clock.advance(10 * DAY)  # the idle ones passed 14 days unused; the revoked one is old
    purged = await collect_garbage(service)
    assert purged.sessions == 6  # in batches of 2
    assert await service.store.get_session(live.session.id) is not None
    for gone in idle:
        assert await service.store.get_session(gone.session.id) is None
    assert (await counts(service))[:2] == (1, 2)  # the live session and its two tokens
    assert (await service.sessions.refresh(live.refresh_token, CLIENT)).rotated
    clock.advance(91 * DAY)
    assert (await collect_garbage(service)).audit_events > 0
    await service.close()


async def test_tables_stay_flat_under_steady_load(tmp_path: Path) -> None:
    clock = ManualClock()
    service = Tessera(make_settings(tmp_path / "d", gc_keep=3600, audit_retention=DAY), clock=clock)
    await service.start()
    sizes = []
    for hour in range(72):  # three days: 8 logins an hour, each session used briefly
        for n in range(8):
            issued = await service.sessions.open(f"u{hour}-{n}", "user", CLIENT)
            await service.sessions.logout(issued.refresh_token, CLIENT)
        clock.advance(3600)
        await collect_garbage(service)
        sizes.append(await counts(service))
    assert sizes[-1] == sizes[-25]  # a day later: the same size, not growing
    assert max(s[0] for s in sizes) <= 16
    await service.close()


def test_gc_command(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    result = subprocess.run(
        [*COMMAND, "gc", "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "purged 0 sessions, 0 audit events and 0 revocations" in result.stdout


async def test_one_collector_at_a_time_on_postgres(tmp_path: Path, pg_url: str) -> None:  # noqa: F811
    settings = make_settings(tmp_path / "d", database_url=pg_url, secret=SECRET)
    first, second = Tessera(settings), Tessera(settings)
    await first.start()
    await second.start()
    store = first.store
    assert isinstance(store, SQLStore)
    async with store.purge_lock() as got:
        assert got
        assert (await collect_garbage(second)).skipped
    assert not (await collect_garbage(second)).skipped
    await first.close()
    await second.close()
