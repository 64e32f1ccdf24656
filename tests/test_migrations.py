"""Alembic migrations are the schema: they match the table definitions and run both ways."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from tessera.store import AuditEvent, KeyRecord, SessionRecord, SQLStore, UserRecord
from tessera.store.migrate import alembic_config, upgrade
from tessera.store.schema import audit_events, metadata, sessions, signing_keys, users

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


def test_each_record_is_its_tables_columns() -> None:
    """The store maps rows to records by name (`store.rows`): a field without its column, or
    a column the record lacks, would be lost on the way in or out."""
    tables = {SessionRecord: sessions, UserRecord: users, KeyRecord: signing_keys}
    for kind, table in tables.items():
        assert {f.name for f in fields(kind)} == set(table.c.keys()), kind.__name__
    assert {f.name for f in fields(AuditEvent)} == set(audit_events.c.keys()) - {"id"}
