"""Alembic environment: Tessera always hands it an open connection (see `tessera.store.migrate`)."""

from __future__ import annotations

from alembic import context

from tessera.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through tessera.store.migrate, which passes a connection")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
