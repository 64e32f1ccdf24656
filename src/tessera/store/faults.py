"""Which failures mean "the database is unavailable", and of what kind: decided here only.

Every way into the database — SQLAlchemy's pool, SQLite's inline connection and its worker
threads, asyncpg on PostgreSQL's refresh path, the LISTEN connection, migrations — runs inside
`as_unavailable()`, so an outage leaves the store as Tessera's own `DatabaseUnavailable` (503,
Retry-After) whichever driver noticed it and however deep its wrappers buried it. Anything else
(a constraint, a missing table, a bug) passes through unchanged and becomes a 500.

The decision reads what the database itself said — PostgreSQL's SQLSTATE, SQLite's result code
— on every exception of the chain (SQLAlchemy's wrapper, its adapter of the driver's error, the
driver's own), never the wrapper's class: SQLAlchemy files "the database system is starting up"
under a plain `DBAPIError`, and "no such table" under `OperationalError`. To recognise a new
kind of outage, teach `kind_of`; every path follows.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from types import TracebackType

from sqlalchemy import exc as sa_exc

from tessera.errors import Unavailable
from tessera.logs import redact

RETRY_AFTER = 2  # seconds: an outage is usually a restart or a failover
DESCRIPTION = "database unavailable"


class Kind:
    """The kinds of outage, as metrics and logs name them."""

    CONNECTION = "connection"  # refused, reset, closed, unreachable
    STARTING_UP = "starting_up"  # crash recovery, or a server not yet accepting connections
    SHUTTING_DOWN = "shutting_down"  # the server (or an administrator) ended the connection
    TOO_MANY_CONNECTIONS = "too_many_connections"  # the server's max_connections
    POOL_EXHAUSTED = "pool_exhausted"  # no pooled connection came free in time
    REFUSED = "refused"  # authentication failed (a rotated password), or no such database
    READ_ONLY = "read_only"  # a standby after failover; a read-only database file
    CONFLICT = "conflict"  # serialization failure or deadlock that outlived its retries
    TIMEOUT = "timeout"  # statement or lock timeout, or no answer in time
    BUSY = "busy"  # SQLite: another process held the database past the busy timeout
    DISK_FULL = "disk_full"
    RESOURCES = "resources"  # out of memory, or another limit of the server
    IO_ERROR = "io_error"
    CANNOT_OPEN = "cannot_open"  # SQLite: the file (or its directory) cannot be opened

    ALL = (
        CONNECTION,
        STARTING_UP,
        SHUTTING_DOWN,
        TOO_MANY_CONNECTIONS,
        POOL_EXHAUSTED,
        REFUSED,
        READ_ONLY,
        CONFLICT,
        TIMEOUT,
        BUSY,
        DISK_FULL,
        RESOURCES,
        IO_ERROR,
        CANNOT_OPEN,
    )


# After these, the connection that met the fault is not used again: it may be dead, opened
# read-only, or on a server that is no longer the primary. (A timeout, a conflict or a busy
# SQLite leave it fine: discarding it would only add reconnections to an overloaded server.)
DISCARD = frozenset(Kind.ALL) - {Kind.POOL_EXHAUSTED, Kind.CONFLICT, Kind.TIMEOUT, Kind.BUSY}

# PostgreSQL's SQLSTATEs (Appendix A of its manual): exact codes first, then classes.
SQLSTATES = {
    "57P01": Kind.SHUTTING_DOWN,  # admin_shutdown (also pg_terminate_backend)
    "57P02": Kind.SHUTTING_DOWN,  # crash_shutdown
    "57P03": Kind.STARTING_UP,  # cannot_connect_now
    "57P04": Kind.REFUSED,  # database_dropped
    "57P05": Kind.CONNECTION,  # idle_session_timeout
    "57014": Kind.TIMEOUT,  # query_canceled: statement_timeout
    "55P03": Kind.TIMEOUT,  # lock_not_available: lock_timeout
    "25006": Kind.READ_ONLY,  # read_only_sql_transaction: a standby (failover)
    "40001": Kind.CONFLICT,  # serialization_failure
    "40P01": Kind.CONFLICT,  # deadlock_detected
    "53100": Kind.DISK_FULL,
    "53300": Kind.TOO_MANY_CONNECTIONS,
    "3D000": Kind.REFUSED,  # invalid_catalog_name: the database is gone
    "58030": Kind.IO_ERROR,
}
SQLSTATE_CLASSES = {
    "08": Kind.CONNECTION,  # connection_exception
    "53": Kind.RESOURCES,  # insufficient_resources
    "28": Kind.REFUSED,  # invalid_authorization_specification
}
# SQLite's primary result codes (the low byte of an extended code).
SQLITE_CODES = {
    5: Kind.BUSY,  # SQLITE_BUSY
    6: Kind.BUSY,  # SQLITE_LOCKED
    7: Kind.RESOURCES,  # SQLITE_NOMEM
    8: Kind.READ_ONLY,  # SQLITE_READONLY
    10: Kind.IO_ERROR,  # SQLITE_IOERR
    13: Kind.DISK_FULL,  # SQLITE_FULL
    14: Kind.CANNOT_OPEN,  # SQLITE_CANTOPEN
    15: Kind.BUSY,  # SQLITE_PROTOCOL: a lock race between processes
}
# An `sqlite3.OperationalError` made without a result code: its message, as SQLite words it.
SQLITE_MESSAGES = (
    ("database is locked", Kind.BUSY),
    ("database table is locked", Kind.BUSY),
    ("readonly database", Kind.READ_ONLY),
    ("disk i/o error", Kind.IO_ERROR),
    ("database or disk is full", Kind.DISK_FULL),
    ("unable to open database", Kind.CANNOT_OPEN),
    ("out of memory", Kind.RESOURCES),
)
OS_ERRORS = {
    errno.ENOSPC: Kind.DISK_FULL,
    errno.EDQUOT: Kind.DISK_FULL,
    errno.EROFS: Kind.READ_ONLY,
    errno.EIO: Kind.IO_ERROR,
}
MAX_CHAIN = 8  # exceptions followed through causes and wrappers


class DatabaseUnavailable(Unavailable):
    """The database cannot answer now; the client may retry after `RETRY_AFTER` seconds.
    Clients see only `DESCRIPTION`; `kind` (a `Kind`) and `str()` are for metrics and logs,
    and keep what the driver said, never the SQL nor its parameters."""

    def __init__(self, cause: BaseException, kind: str = Kind.CONNECTION) -> None:
        super().__init__(DESCRIPTION, retry_after=RETRY_AFTER, kind=kind)
        self.cause = cause

    def __str__(self) -> str:
        said = self.cause.orig if isinstance(self.cause, sa_exc.DBAPIError) else self.cause
        # A driver's message may quote the database URL: never its password.
        return f"{DESCRIPTION} ({self.kind}): {type(said).__name__}: {redact(str(said))}"


def classify(exc: BaseException) -> Unavailable | None:
    """The `Unavailable` that `exc` amounts to, or None when it is not an outage."""
    if isinstance(exc, Unavailable):
        return exc
    kind = kind_of(exc)
    return DatabaseUnavailable(exc, kind) if kind is not None else None


def kind_of(exc: BaseException) -> str | None:
    """The outage `exc` reports, or None. The innermost exception that names one decides: the
    driver's own words are more precise than a wrapper's."""
    found = None
    for link in chain(exc):
        kind = _own_kind(link)
        if kind is not None:
            found = kind
    return found


def chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what it wraps (`orig`) or was raised `from` (`__cause__`). Not what it was
    raised while handling (`__context__`): a bug in an error handler is still a bug."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen and len(seen) < MAX_CHAIN:
        seen.add(id(link))
        yield link
        orig = getattr(link, "orig", None)
        link = orig if isinstance(orig, BaseException) else link.__cause__


def _own_kind(exc: BaseException) -> str | None:
    """What this exception alone says, without looking inside it."""
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return SQLSTATES.get(sqlstate) or SQLSTATE_CLASSES.get(sqlstate[:2])
    if isinstance(exc, sqlite3.Error):
        return _sqlite_kind(exc)
    if isinstance(exc, sa_exc.TimeoutError):
        return Kind.POOL_EXHAUSTED
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return Kind.CONNECTION  # the connection broke mid-statement
    if isinstance(exc, TimeoutError):  # asyncio's too
        return Kind.TIMEOUT
    if isinstance(exc, OSError):
        return OS_ERRORS.get(exc.errno or 0, Kind.CONNECTION)
    return _asyncpg_kind(exc)


def _sqlite_kind(exc: sqlite3.Error) -> str | None:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return SQLITE_CODES.get(code & 0xFF)
    if isinstance(exc, sqlite3.OperationalError):
        message = str(exc).lower()
        for words, kind in SQLITE_MESSAGES:
            if words in message:
                return kind
    return None


def _asyncpg_kind(exc: BaseException) -> str | None:
    """asyncpg's own errors that carry no SQLSTATE: a connection it found closed, or one whose
    protocol the server's farewell left stuck (`STUCK`)."""
    module = type(exc).__module__
    if not module.startswith("asyncpg"):
        return None
    name = type(exc).__name__
    if name == "ConnectionDoesNotExistError" or "closed" in str(exc).lower():
        return Kind.CONNECTION
    if name == "InternalClientError" and STUCK in str(exc):
        return Kind.CONNECTION
    return None


# What asyncpg (0.32) says when a statement starts on a connection whose protocol is not idle
# although no operation awaits it: "cannot switch to state 12; another operation (2) is in
# progress". It happens when the server ends an idle connection (`pg_terminate_backend`, a
# shutdown, idle_session_timeout): PostgreSQL sends its FATAL message, then closes the socket.
# asyncpg reads the message while idle, cannot place it, and waits for a sync that never comes;
# until the socket's end arrives `is_closed()` is still False, so the pool's checkout check
# hands the connection out. Found by tests/test_pg_faults.py (a 500 in a few of every hundred
# refreshes while the pool's connections were terminated); reported upstream as
# MagicStack/asyncpg#784 and #1069. Using one connection from two tasks at once, a bug, is a
# different error (`InterfaceError: ... another operation is in progress`) and stays a 500.
STUCK = "cannot switch to state"


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
