"""An outage, however the driver spells it, leaves the store as `DatabaseUnavailable`: the
contract's 503 with Retry-After 2 s; anything else passes through as it was raised."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import exc as sa_exc

from tessera import Tessera, create_app
from tessera.errors import Unavailable
from tessera.store import DatabaseUnavailable, SessionRecord, SQLStore
from tessera.store.faults import as_unavailable, classify
from tessera.store.refresh_sqlite import SQLiteRefreshPath
from tessera.store.sqlite_connections import Cursor
from tests.conftest import PASSWORD, make_settings
from tests.helpers import login, refresh

pytestmark = pytest.mark.anyio

DESCRIPTION = "database unavailable"


def wrapped(orig: Exception, kind: type[sa_exc.DBAPIError] = sa_exc.OperationalError) -> Any:
    return kind("SELECT secret_column FROM t WHERE x = ?", ("parameter-value",), orig)


OUTAGES = [
    wrapped(sqlite3.OperationalError("database is locked")),
    wrapped(ConnectionResetError(), sa_exc.InterfaceError),
    sa_exc.TimeoutError("QueuePool limit reached"),
    sa_exc.DBAPIError("SELECT 1", None, Exception("server closed"), connection_invalidated=True),
    ConnectionRefusedError("connect call failed"),
    TimeoutError(),
    OSError("network unreachable"),
    sqlite3.OperationalError("disk I/O error"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
    asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
    asyncpg.exceptions.TooManyConnectionsError("too many clients"),
    asyncpg.exceptions.AdminShutdownError("terminating connection"),
]
NOT_OUTAGES = [
    wrapped(sqlite3.IntegrityError("UNIQUE constraint failed"), sa_exc.IntegrityError),
    wrapped(Exception("bad"), sa_exc.DBAPIError),
    sqlite3.IntegrityError("UNIQUE constraint failed"),
    asyncpg.exceptions.UniqueViolationError("duplicate key"),
    ValueError("a bug"),
]


@pytest.mark.parametrize("exc", OUTAGES, ids=lambda e: type(e).__name__)
def test_outages_are_unavailable_for_two_seconds(exc: Exception) -> None:
    fault = classify(exc)
    assert isinstance(fault, DatabaseUnavailable) and fault.cause is exc
    assert (fault.status, fault.code, fault.description) == (503, "unavailable", DESCRIPTION)
    assert fault.headers == {"Retry-After": "2"}
    assert "parameter-value" not in str(fault) and "secret_column" not in str(fault)
    with pytest.raises(DatabaseUnavailable) as raised, as_unavailable():
        raise exc
    assert raised.value.__cause__ is exc


@pytest.mark.parametrize("exc", NOT_OUTAGES, ids=lambda e: type(e).__name__)
def test_anything_else_passes_through(exc: Exception) -> None:
    assert classify(exc) is None
    with pytest.raises(type(exc)) as raised, as_unavailable():
        raise exc
    assert raised.value is exc


def test_a_cancellation_and_an_unavailable_pass_through_unchanged() -> None:
    already = Unavailable("too many logins in progress", 1)
    assert classify(already) is already
    for exc in (asyncio.CancelledError(), already):
        with pytest.raises(type(exc)) as raised, as_unavailable():
            raise exc
        assert raised.value is exc


class DiskFailing(SQLStore):
    """A SQLite store whose refresh path meets a disk error (`escape`: raised around the
    store, as a subclass or a wrapper might, rather than by it)."""

    escape = False

    async def find_by_refresh_hash(self, token_hash: bytes) -> tuple[int, SessionRecord] | None:
        if self.escape:
            raise wrapped(sqlite3.OperationalError("disk I/O error"))

        def read(_cursor: Cursor) -> None:
            raise sqlite3.OperationalError("disk I/O error")

        assert isinstance(self.refresh_path, SQLiteRefreshPath)
        return await self.refresh_path.read(read)  # type: ignore[no-any-return]


@pytest.mark.parametrize("escape", [False, True], ids=["raised by the store", "escaped it"])
async def test_the_contract_answers_an_outage_with_503_and_retry_after(
    tmp_path: Path, escape: bool
) -> None:
    settings = make_settings(tmp_path / "d")
    store = DiskFailing.from_url(settings.resolved_database_url())
    store.escape = escape
    service = Tessera(settings, store=store)
    await service.start()
    await service.users.add("alice", PASSWORD)
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
        response = await refresh(client, (await login(client))["refresh_token"])
    assert response.status_code == 503
    assert response.json() == {"error": "unavailable", "error_description": DESCRIPTION}
    assert response.headers["retry-after"] == "2"
    await service.close()
    await store.close()
