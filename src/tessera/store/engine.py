"""An async engine for a database URL, tuned per dialect: the one place a URL becomes an engine.

SQLite: WAL, a busy timeout, files created private before SQLite opens them, and no connection
kept that was opened while the file could not be written (`sqlite_read_only`). PostgreSQL:
a bounded pool, and timeouts so one stuck query cannot hold a connection forever.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tessera.store.file_modes import private_sqlite_files
from tessera.store.sqlite_read_only import keep_no_suspects

SQLITE_BUSY_TIMEOUT_MS = 10_000


def connect(
    url: str, *, pool_size: int = 20, max_overflow: int = 0, statement_timeout: float = 5.0
) -> AsyncEngine:
    """An engine for `url` (already in `dialect+driver://` form), tuned per dialect."""
    if url.startswith("sqlite"):
        private_sqlite_files(url)  # before SQLite creates the file with its own mode
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
        database = engine.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            keep_no_suspects(engine.sync_engine, database)
        return engine
    # Connections broken by an outage are discarded by SQLAlchemy on the first error, and the
    # pool reconnects by itself once the server is back.
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=statement_timeout,
        pool_recycle=1800,
        connect_args={
            "timeout": statement_timeout,
            "command_timeout": statement_timeout * 2,
            "server_settings": {
                "statement_timeout": str(int(statement_timeout * 1000)),
                "application_name": "tessera",
            },
        },
    )
    event.listen(engine.sync_engine, "checkout", discard_closed)
    return engine


def discard_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A connection the server closed while it sat in the pool (a restart, a failover,
    `pg_terminate_backend`) is never handed out: the pool retries the checkout on a fresh
    connection. asyncpg notices the closed socket by itself, so this costs no round trip
    (unlike `pool_pre_ping`)."""
    if dbapi_connection.driver_connection.is_closed():
        raise sa_exc.DisconnectionError("closed by the server while pooled")


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Every pooled SQLite connection: WAL (the file's mode, set by the first), foreign keys,
    and waiting for the write lock rather than failing at once."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()
