"""`SQLStore`: the `Store` on SQLAlchemy Core with async drivers — SQLite (aiosqlite) or
PostgreSQL (asyncpg) — put together from one module per concern (users, sessions, revocations,
audit, purge, keys).

The engine is read once, here and in `Database`: the refresh path's implementation is picked
when the store is built (see `refresh_path`), never per call.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tessera.store.audit import AuditQueries
from tessera.store.database import Database
from tessera.store.engine import connect
from tessera.store.faults import DatabaseUnavailable, Kind
from tessera.store.keys import KeyQueries
from tessera.store.purge import PurgeQueries
from tessera.store.refresh_path import RefreshPath
from tessera.store.refresh_postgres import PostgresRefreshPath
from tessera.store.refresh_sqlite import SQLiteRefreshPath
from tessera.store.revocations import RevocationQueries
from tessera.store.sessions import SessionQueries
from tessera.store.sqlite_read_only import writable
from tessera.store.users import UserQueries


class SQLStore(
    UserQueries, SessionQueries, RevocationQueries, AuditQueries, PurgeQueries, KeyQueries
):
    """`Store` over one SQLAlchemy async engine. `refresh_path` is the engine's
    implementation of the hot statements: `SQLiteRefreshPath` or `PostgresRefreshPath`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.db = Database(engine)
        self.refresh_path = refresh_path_for(self.db)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SQLStore:
        return cls(connect(url, **options))

    async def ping(self) -> None:
        """The database answers and takes writes: a read-only one (a standby after a failover,
        a read-only file) cannot rotate a single token, so it is not ready either."""
        async with self.db.connection() as conn:
            if self.db.postgres:
                read_only = await conn.scalar(sa.text("SHOW transaction_read_only")) == "on"
            else:
                await conn.execute(sa.text("SELECT 1"))
                read_only = not sqlite_writable(self.engine.url.database)
        if read_only:
            raise DatabaseUnavailable(PermissionError("the database is read-only"), Kind.READ_ONLY)

    async def close(self) -> None:
        await self.db.close()
        await self.refresh_path.close()


def refresh_path_for(db: Database) -> RefreshPath:
    """The engine's own way to run the refresh path."""
    return PostgresRefreshPath(db) if db.postgres else SQLiteRefreshPath(db)


def sqlite_writable(database: str | None) -> bool:
    """SQLite can write `database`: the file, its directory (where the `-wal` and `-shm` files
    are made), and those where they exist. Asked of the kernel, which also answers for root
    (an immutable file, a read-only mount). A database in memory or behind a URI is taken as
    writable."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return True
    return writable(database)
