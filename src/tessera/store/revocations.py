"""Revoking sessions, and the feed of revocations other replicas and verifiers follow.

A revocation and its published `Revocation` row commit together (`revoke_where`, used by
sessions and users alike). On PostgreSQL, every LISTENing replica is told when one commits.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tessera.store.database import Database
from tessera.store.faults import as_unavailable
from tessera.store.records import Revocation
from tessera.store.schema import revocations, sessions

REVOCATION_LOCK = 0x7E55E7A3  # advisory-lock key: revocations commit one at a time
REVOCATION_CHANNEL = "tessera_revocations"  # PostgreSQL NOTIFY channel: "a revocation committed"
LISTENER_SETTINGS = {"application_name": "tessera-revocations"}


async def revoke_where(
    db: Database, conn: AsyncConnection, where: Any, now: float, reason: str, not_after: float
) -> Sequence[str]:
    """Revoke the matching sessions and publish exactly those (UPDATE … RETURNING: a session
    created meanwhile is either in both or in neither), in `conn`'s transaction."""
    revoking = (
        sessions.update()
        .where(where)
        .values(revoked_at=now, revoke_reason=reason)
        .returning(sessions.c.id)
    )
    ids = (await conn.execute(revoking)).scalars().all()
    if ids:
        if db.postgres:
            # Held to commit: ids are then taken and committed in the same order, so a
            # follower that has read id n can never later find a smaller one (SQLite's
            # writers are serialised anyway). Revocations are rare; the wait is short.
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": REVOCATION_LOCK})
        await conn.execute(
            revocations.insert(),
            [{"session_id": id_, "not_after": not_after, "at": now} for id_ in ids],
        )
        if db.postgres:
            # Delivered to every LISTENing replica when this transaction commits.
            await conn.execute(
                sa.text("SELECT pg_notify(:channel, '')"), {"channel": REVOCATION_CHANNEL}
            )
    return list(ids)


class RevocationQueries:
    db: Database

    async def revocations_after(self, cursor: int, limit: int) -> list[Revocation]:
        query = (
            revocations.select()
            .where(revocations.c.id > cursor)
            .order_by(revocations.c.id)
            .limit(limit)
        )
        async with self.db.connection() as conn:
            rows = (await conn.execute(query)).all()
        return [Revocation(r.id, r.session_id, r.not_after, r.at) for r in rows]

    @asynccontextmanager
    async def revocation_notices(
        self, wake: Callable[[], None], lost: Callable[[], None] | None = None
    ) -> AsyncIterator[bool]:
        """PostgreSQL: a connection of its own LISTENs on the revocation channel (outside the
        pool, which it would otherwise hold forever). `lost()` is called if it drops."""
        if not self.db.postgres:
            yield False
            return
        with as_unavailable():
            conn = await listen(self.db)
        try:
            with as_unavailable():
                await conn.add_listener(REVOCATION_CHANNEL, lambda *_: wake())
            if lost is not None:
                conn.add_termination_listener(lambda _conn: lost())
            yield True
        finally:
            with suppress(Exception):
                await conn.close(timeout=2)


async def listen(db: Database) -> asyncpg.Connection:
    """A connection for LISTEN: the same address, credentials and TLS options as the pool's."""
    engine = db.engine
    args, options = engine.dialect.create_connect_args(engine.url)
    accepted = inspect.signature(asyncpg.connect).parameters  # not SQLAlchemy's own options
    options = {k: v for k, v in options.items() if k in accepted}
    options.update(timeout=10, server_settings=LISTENER_SETTINGS)
    return await asyncpg.connect(*args, **options)
