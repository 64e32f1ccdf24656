"""Alembic migrations are the schema: they match the table definitions and run both ways."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from tessera.store import SQLStore
from tessera.store.migrate import alembic_config, upgrade
from tessera.store.schema import metadata

pytestmark = pytest.mark.anyio


async def test_migrations_match_the_schema_and_downgrade(tmp_path: Path) -> None:
    store = SQLStore.from_url(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    await upgrade(store.engine)
    await upgrade(store.engine)  # idempotent

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection)
        return list(compare_metadata(context, metadata))

    def tables(connection: Connection) -> set[str]:
        return set(sa.inspect(connection).get_table_names())

    def downgrade(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), "base")

    async with store.engine.begin() as conn:
        assert await conn.run_sync(diff) == []
        assert {"users", "sessions", "refresh_tokens", "audit_events", "signing_keys"} <= (
            await conn.run_sync(tables)
        )
        await conn.run_sync(downgrade)
        assert await conn.run_sync(tables) == {"alembic_version"}
    await upgrade(store.engine)
    async with store.engine.begin() as conn:
        assert await conn.run_sync(diff) == []
    await store.close()
