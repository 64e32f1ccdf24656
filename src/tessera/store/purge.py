"""Garbage collection: ended sessions (their refresh tokens with them), old audit events and
revocations no token can outlive, deleted in short batches by one replica at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa

from tessera.store.database import Database
from tessera.store.records import Purged
from tessera.store.schema import audit_events, refresh_tokens, revocations, sessions

GC_LOCK = 0x7E55E7A2  # advisory-lock key: one garbage collector at a time


class PurgeQueries:
    db: Database

    async def purge(
        self,
        *,
        sessions_before: float,
        idle_before: float,
        audit_before: float,
        revocations_before: float,
        batch: int,
        max_batches: int,
    ) -> Purged:
        dead = sa.or_(
            sessions.c.revoked_at < sessions_before,
            sessions.c.expires_at < sessions_before,
            sessions.c.last_used_at < idle_before,
        )
        old_audit = audit_events.c.at < audit_before
        ended = revocations.c.not_after < revocations_before
        async with self.purge_lock() as acquired:
            if not acquired:
                return Purged(skipped=True)
            return Purged(
                sessions=await self._in_batches(sessions, sessions.c.id, dead, batch, max_batches),
                audit_events=await self._in_batches(
                    audit_events, audit_events.c.id, old_audit, batch, max_batches
                ),
                revocations=await self._in_batches(
                    revocations, revocations.c.id, ended, batch, max_batches
                ),
            )

    @asynccontextmanager
    async def purge_lock(self) -> AsyncIterator[bool]:
        """Yields whether this caller may purge now: one replica at a time, by a PostgreSQL
        advisory lock held while the block runs (SQLite, one process: always True)."""
        if not self.db.postgres:
            yield True
            return
        async with self.db.connection() as conn:
            got = (
                await conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": GC_LOCK})
            ).scalar()
            await conn.commit()
            try:
                yield bool(got)
            finally:
                if got:
                    await conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": GC_LOCK})
                    await conn.commit()

    async def _in_batches(
        self, table: sa.Table, key: sa.Column[Any], where: Any, batch: int, max_batches: int
    ) -> int:
        """Short transactions of at most `batch` rows, so the purge never holds locks long."""
        total = 0
        for _ in range(max_batches):
            chosen = sa.select(key).where(where).limit(batch).scalar_subquery()
            async with self.db.transaction() as conn:
                if table is sessions:
                    # Explicitly, not only by the cascade: SQLite enforces it per connection.
                    await conn.execute(
                        refresh_tokens.delete().where(refresh_tokens.c.session_id.in_(chosen))
                    )
                result = await conn.execute(table.delete().where(key.in_(chosen)))
            total += result.rowcount
            if result.rowcount < batch:
                break
        return total
