"""Bring a database to the newest schema with Alembic, from inside the running program."""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tessera.store.faults import as_unavailable

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK = 0x7E55E7A1  # an arbitrary, fixed advisory-lock key


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine) -> None:
    """Apply every migration not yet applied (idempotent); `DatabaseUnavailable` if the
    database cannot answer."""

    def _run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), "head")

    with as_unavailable():
        async with _sqlite_file_lock(engine), engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Replicas starting together: one migrates, the others wait, then find it done.
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            await conn.run_sync(_run)


@asynccontextmanager
async def _sqlite_file_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """Processes migrating one SQLite file together (two units started at once, a CLI command
    beside `serve`): one migrates, the others wait on a lock file beside the database, then
    find it done. SQLite has no advisory lock, and Alembic's DDL takes none across its steps."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        yield  # not a plain file path (an in-memory or URI database): no sibling to lock
        return
    try:
        fd = os.open(f"{database}.migrate-lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:  # a read-only directory: nothing can be migrated there anyway
        yield
        return
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
