"""Users: add, find, list, remove (revoking their sessions), change a password hash."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tessera.store.base import UserExists
from tessera.store.database import Database
from tessera.store.records import UserRecord
from tessera.store.revocations import revoke_where
from tessera.store.rows import record, values
from tessera.store.schema import sessions, users


class UserQueries:
    db: Database

    async def add_user(self, user: UserRecord) -> None:
        try:
            async with self.db.transaction() as conn:
                await conn.execute(users.insert().values(**values(user)))
        except IntegrityError as exc:
            raise UserExists(user.username) from exc

    async def get_user_by_name(self, username: str) -> UserRecord | None:
        async with self.db.connection() as conn:
            row = (await conn.execute(users.select().where(users.c.username == username))).first()
        return record(UserRecord, row._mapping) if row else None

    async def list_users(self) -> list[UserRecord]:
        async with self.db.connection() as conn:
            rows = (await conn.execute(users.select().order_by(users.c.username))).all()
        return [record(UserRecord, row._mapping) for row in rows]

    async def remove_user(self, username: str, now: float, not_after: float) -> bool:
        async with self.db.transaction() as conn:
            row = (
                await conn.execute(sa.select(users.c.id).where(users.c.username == username))
            ).first()
            if row is None:
                return False
            await revoke_where(
                self.db,
                conn,
                sa.and_(sessions.c.subject == row.id, sessions.c.revoked_at.is_(None)),
                now,
                "user_removed",
                not_after,
            )
            await conn.execute(users.delete().where(users.c.id == row.id))
            return True

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                users.update().where(users.c.id == user_id).values(password_hash=password_hash)
            )
