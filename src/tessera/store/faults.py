"""Which failures mean "the database is unavailable": decided here, and nowhere else.

Every way into the database — SQLAlchemy's pool, SQLite's inline connection and its worker
threads, asyncpg on PostgreSQL's refresh path, the LISTEN connection, migrations — runs inside
`as_unavailable()`, so an outage leaves the store as Tessera's own `DatabaseUnavailable` (503,
Retry-After) whichever driver noticed it. Anything else (a constraint, a bug) passes through
unchanged. To recognise a new kind of outage, teach `classify`; every path follows.
"""

from __future__ import annotations

import sqlite3
from types import TracebackType

import asyncpg
from sqlalchemy import exc as sa_exc

from tessera.errors import Unavailable

RETRY_AFTER = 2  # seconds: an outage is usually a restart or a failover
DESCRIPTION = "database unavailable"

# The connection or the server is gone, or too busy to answer — as each layer spells it:
# SQLAlchemy wraps the drivers' errors on its own paths; the refresh paths meet the drivers'.
OUTAGES: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,  # no pooled connection came free in time
    sqlite3.OperationalError,  # locked past the busy timeout, disk I/O, cannot open the file
    sqlite3.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.QueryCanceledError,  # statement_timeout: an overloaded server
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, crash recovery
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
    OSError,  # ConnectionError among them
    TimeoutError,
)


class DatabaseUnavailable(Unavailable):
    """The database cannot answer now; the client may retry after `RETRY_AFTER` seconds.
    Clients see only `DESCRIPTION`; `cause` (and `str()`, for logs) keeps what the driver said."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(DESCRIPTION, retry_after=RETRY_AFTER)
        self.cause = cause

    def __str__(self) -> str:
        said = self.cause.orig if isinstance(self.cause, sa_exc.DBAPIError) else self.cause
        return f"{DESCRIPTION}: {type(said).__name__}: {said}"  # never SQL nor its parameters


def classify(exc: BaseException) -> Unavailable | None:
    """The `Unavailable` that `exc` amounts to, or None when it is not an outage."""
    if isinstance(exc, Unavailable):
        return exc
    if isinstance(exc, OUTAGES):
        return DatabaseUnavailable(exc)
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return DatabaseUnavailable(exc)  # the connection broke mid-statement
    return None


class _AsUnavailable:
    """A stateless context manager (one instance serves every caller: the refresh path
    enters it on every call)."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None or not isinstance(exc, Exception) or isinstance(exc, Unavailable):
            return  # nothing raised, a cancellation, or already classified
        fault = classify(exc)
        if fault is not None:
            raise fault from exc


_AS_UNAVAILABLE = _AsUnavailable()


def as_unavailable() -> _AsUnavailable:
    """`with as_unavailable():` — an outage raised inside leaves as `DatabaseUnavailable`."""
    return _AS_UNAVAILABLE
