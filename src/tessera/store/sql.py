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
from tessera.store.keys import KeyQueries
from tessera.store.purge import PurgeQueries
from tessera.store.refresh_path import RefreshPath
from tessera.store.refresh_postgres import PostgresRefreshPath
from tessera.store.refresh_sqlite import SQLiteRefreshPath
from tessera.store.revocations import RevocationQueries
from tessera.store.sessions import SessionQueries
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
        async with self.db.connection() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def close(self) -> None:
        await self.db.close()
        await self.refresh_path.close()


def refresh_path_for(db: Database) -> RefreshPath:
    """The engine's own way to run the refresh path."""
    return PostgresRefreshPath(db) if db.postgres else SQLiteRefreshPath(db)
