"""An outage, however the driver spells it, leaves the store as `DatabaseUnavailable`: the
contract's 503 with Retry-After 2 s; anything else passes through as it was raised."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql.asyncpg import (
    AsyncAdapt_asyncpg_connection,
    PGDialect_asyncpg,
)

from tessera import Tessera, create_app
from tessera.errors import Unavailable
from tessera.store import DatabaseUnavailable, SessionRecord, SQLStore
from tessera.store.faults import Kind, as_unavailable, classify, kind_of
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
    wrapped(sqlite3.OperationalError("no such table: sessions")),
    sqlite3.InterfaceError("Error binding parameter 1"),
    asyncpg.exceptions.UndefinedTableError("relation does not exist"),
    asyncpg.exceptions.InternalServerError("internal error"),
    asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
    wrapped(Exception("bad"), sa_exc.DBAPIError),
    sqlite3.IntegrityError("UNIQUE constraint failed"),
    asyncpg.exceptions.UniqueViolationError("duplicate key"),
    ValueError("a bug"),
]


def adapted(orig: Exception) -> Exception:
    """`orig` as SQLAlchemy's asyncpg dialect delivers it from the pool: the driver's error,
    translated to the adapter's (a plain `Error` for most SQLSTATEs), wrapped in a DBAPIError."""
    dbapi = PGDialect_asyncpg.import_dbapi()
    try:
        try:
            raise orig
        except Exception as error:  # noqa: BLE001 - exactly what the adapter does
            AsyncAdapt_asyncpg_connection._handle_exception_no_connection(dbapi, error)
    except Exception as translated:  # noqa: BLE001
        return sa_exc.DBAPIError.instance(None, None, translated, dbapi.Error)
    raise AssertionError("not raised")


def sqlite_error(operation: Callable[[], object]) -> sqlite3.Error:
    """The error a real SQLite raises, with its result code."""
    try:
        operation()
    except sqlite3.Error as exc:
        return exc
    raise AssertionError("SQLite raised nothing")


def read_only_sqlite(tmp_path: Path) -> sqlite3.Error:
    sqlite3.connect(tmp_path / "ro.db").execute("CREATE TABLE t (x)").connection.commit()
    conn = sqlite3.connect(f"file:{tmp_path / 'ro.db'}?mode=ro", uri=True)
    return sqlite_error(lambda: conn.execute("INSERT INTO t VALUES (1)"))


def full_sqlite(tmp_path: Path) -> sqlite3.Error:
    conn = sqlite3.connect(tmp_path / "full.db")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("PRAGMA max_page_count = 2")
    return sqlite_error(lambda: conn.execute("INSERT INTO t VALUES (randomblob(65536))"))


def locked_sqlite(tmp_path: Path) -> sqlite3.Error:
    holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(tmp_path / "locked.db", timeout=0)
    return sqlite_error(lambda: waiter.execute("INSERT INTO t VALUES (1)"))


def missing_sqlite(tmp_path: Path) -> sqlite3.Error:
    return sqlite_error(lambda: sqlite3.connect(tmp_path / "no" / "such" / "dir.db"))


KINDS: list[tuple[str, Any, str]] = [
    (
        "starting up, from the pool",
        adapted(asyncpg.exceptions.CannotConnectNowError("the database system is starting up")),
        Kind.STARTING_UP,
    ),
    (
        "too many clients, from the pool",
        adapted(asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already")),
        Kind.TOO_MANY_CONNECTIONS,
    ),
    (
        "password rotated, from the pool",
        adapted(asyncpg.exceptions.InvalidPasswordError("password authentication failed")),
        Kind.REFUSED,
    ),
    (
        "database dropped",
        adapted(asyncpg.exceptions.InvalidCatalogNameError('database "x" does not exist')),
        Kind.REFUSED,
    ),
    (
        "terminated",
        asyncpg.exceptions.AdminShutdownError(
            "terminating connection due to administrator command"
        ),
        Kind.SHUTTING_DOWN,
    ),
    (
        "crash",
        adapted(
            asyncpg.exceptions.CrashShutdownError(
                "terminating connection because of crash of another server process"
            )
        ),
        Kind.SHUTTING_DOWN,
    ),
    (
        "standby",
        adapted(
            asyncpg.exceptions.ReadOnlySQLTransactionError(
                "cannot execute UPDATE in a read-only transaction"
            )
        ),
        Kind.READ_ONLY,
    ),
    (
        "serialization",
        adapted(asyncpg.exceptions.SerializationError("could not serialize access")),
        Kind.CONFLICT,
    ),
    ("deadlock", asyncpg.exceptions.DeadlockDetectedError("deadlock detected"), Kind.CONFLICT),
    (
        "statement timeout",
        asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
        Kind.TIMEOUT,
    ),
    (
        "lock timeout",
        adapted(
            asyncpg.exceptions.LockNotAvailableError("canceling statement due to lock timeout")
        ),
        Kind.TIMEOUT,
    ),
    (
        "disk full, PostgreSQL",
        adapted(asyncpg.exceptions.DiskFullError("could not extend file")),
        Kind.DISK_FULL,
    ),
    (
        "out of memory, PostgreSQL",
        adapted(asyncpg.exceptions.OutOfMemoryError("out of memory")),
        Kind.RESOURCES,
    ),
    (
        "closed",
        adapted(
            asyncpg.exceptions.ConnectionDoesNotExistError(
                "connection was closed in the middle of operation"
            )
        ),
        Kind.CONNECTION,
    ),
    (
        "closed, asyncpg",
        asyncpg.InterfaceError("cannot call Connection.fetchrow(): connection is closed"),
        Kind.CONNECTION,
    ),
    (
        "terminated while idle",  # the server's FATAL read before its socket closed
        asyncpg.exceptions.InternalClientError(
            "cannot switch to state 12; another operation (2) is in progress"
        ),
        Kind.CONNECTION,
    ),
    (
        "terminated while idle, pool",
        adapted(
            asyncpg.exceptions.InternalClientError(
                "cannot switch to state 11; another operation (2) is in progress"
            )
        ),
        Kind.CONNECTION,
    ),
    ("refused", ConnectionRefusedError(111, "Connect call failed"), Kind.CONNECTION),
    ("connect timeout", TimeoutError(), Kind.TIMEOUT),
    ("pool", sa_exc.TimeoutError("QueuePool limit reached"), Kind.POOL_EXHAUSTED),
    ("ENOSPC", OSError(28, "No space left on device"), Kind.DISK_FULL),
    ("EROFS", OSError(30, "Read-only file system"), Kind.READ_ONLY),
]
SQLITE_KINDS = [
    (read_only_sqlite, Kind.READ_ONLY),
    (full_sqlite, Kind.DISK_FULL),
    (locked_sqlite, Kind.BUSY),
    (missing_sqlite, Kind.CANNOT_OPEN),
]


@pytest.mark.parametrize(("exc", "kind"), [k[1:] for k in KINDS], ids=[k[0] for k in KINDS])
def test_each_outage_is_named_by_its_kind(exc: Exception, kind: str) -> None:
    assert kind in Kind.ALL
    fault = classify(exc)
    assert isinstance(fault, DatabaseUnavailable) and fault.kind == kind
    assert fault.status == 503 and fault.headers == {"Retry-After": "2"}
    assert f"({kind})" in str(fault)


@pytest.mark.parametrize(("make", "kind"), SQLITE_KINDS, ids=lambda v: getattr(v, "__name__", v))
def test_sqlite_outages_are_named_by_their_result_codes(
    tmp_path: Path, make: Callable[[Path], sqlite3.Error], kind: str
) -> None:
    exc = make(tmp_path)
    assert kind_of(exc) == kind
    assert kind_of(wrapped(exc)) == kind  # as SQLAlchemy's pool delivers it


def test_an_error_raised_while_handling_an_outage_is_not_one() -> None:
    try:
        try:
            raise ConnectionResetError()
        except ConnectionResetError:
            raise KeyError("a bug in a handler")  # noqa: B904 - the point of the test
    except KeyError as exc:
        assert classify(exc) is None


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
