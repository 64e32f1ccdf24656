"""Bring a database to the newest schema with Alembic, from inside the running program."""

from __future__ import annotations

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
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Replicas starting together: one migrates, the others wait, then find it done.
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            await conn.run_sync(_run)
