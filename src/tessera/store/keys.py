"""Signing keys: the ring as stored, and its changes of state, each a compare-and-set (several
replicas run the same schedule)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tessera.store.base import KeyConflict
from tessera.store.database import Database
from tessera.store.records import KeyRecord
from tessera.store.rows import record, values
from tessera.store.schema import signing_keys


class KeyQueries:
    db: Database

    async def list_keys(self) -> list[KeyRecord]:
        async with self.db.connection() as conn:
            rows = (
                await conn.execute(signing_keys.select().order_by(signing_keys.c.created_at))
            ).all()
        return [record(KeyRecord, row._mapping) for row in rows]

    async def add_key(self, key: KeyRecord, previous_retire_at: float | None) -> None:
        try:
            async with self.db.transaction() as conn:
                if key.state == "active":
                    await conn.execute(
                        signing_keys.update()
                        .where(signing_keys.c.state == "active")
                        .values(state="previous", retire_at=previous_retire_at)
                    )
                await conn.execute(signing_keys.insert().values(**values(key)))
        except IntegrityError as exc:
            raise KeyConflict(key.kid) from exc

    async def add_first_key(self, key: KeyRecord) -> bool:
        return await self._add_unless_one_is(key, "active")

    async def add_next_key(self, key: KeyRecord) -> bool:
        return await self._add_unless_one_is(key, "next")

    async def _add_unless_one_is(self, key: KeyRecord, state: str) -> bool:
        """Store `key` only if no key is in `state` yet (a unique index makes a concurrent
        second writer fail: another replica made it first)."""
        try:
            async with self.db.transaction() as conn:
                existing = (
                    await conn.execute(
                        sa.select(signing_keys.c.kid).where(signing_keys.c.state == state)
                    )
                ).first()
                if existing is not None:
                    return False
                await conn.execute(signing_keys.insert().values(**values(key)))
                return True
        except IntegrityError:
            return False

    async def promote_next_key(
        self, next_kid: str, active_kid: str, now: float, previous_retire_at: float
    ) -> bool:
        steps = (  # each a compare-and-set on the key's state; both, or neither
            (active_kid, "active", {"state": "previous", "retire_at": previous_retire_at}),
            (next_kid, "next", {"state": "active", "activated_at": now}),
        )
        async with self.db.transaction() as conn:
            for kid, state, change in steps:
                changed = await conn.execute(
                    signing_keys.update()
                    .where(signing_keys.c.kid == kid, signing_keys.c.state == state)
                    .values(**change)
                )
                if changed.rowcount != 1:
                    await conn.rollback()
                    return False
            return True

    async def retire_keys(self, now: float) -> int:
        async with self.db.transaction() as conn:
            result = await conn.execute(
                signing_keys.update()
                .where(signing_keys.c.state == "previous", signing_keys.c.retire_at <= now)
                .values(state="retired")
            )
            return int(result.rowcount)
