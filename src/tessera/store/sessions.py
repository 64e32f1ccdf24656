"""Sessions: created, found by a refresh token's hash and rotated on the engine's refresh path;
read, listed and revoked through SQLAlchemy Core."""

from __future__ import annotations

import sqlalchemy as sa

from tessera.store.database import Database
from tessera.store.records import AuditEvent, SessionRecord
from tessera.store.refresh_path import RefreshPath, Rotation
from tessera.store.revocations import revoke_where
from tessera.store.rows import record, values
from tessera.store.schema import audit_events, sessions


class SessionQueries:
    db: Database
    refresh_path: RefreshPath

    async def create_session(
        self, session: SessionRecord, token_hash: bytes, audit: AuditEvent | None = None
    ) -> None:
        await self.refresh_path.create_session(session, token_hash, audit)

    async def find_by_refresh_hash(self, token_hash: bytes) -> tuple[int, SessionRecord] | None:
        return await self.refresh_path.find(token_hash)

    async def rotate(
        self,
        session_id: str,
        expected_generation: int,
        new_hash: bytes,
        sealed_token: bytes,
        now: float,
        audit: AuditEvent | None = None,
    ) -> bool:
        return await self.refresh_path.rotate(
            Rotation(session_id, expected_generation, new_hash, sealed_token, now, audit)
        )

    async def get_session(self, session_id: str) -> SessionRecord | None:
        async with self.db.connection() as conn:
            row = (await conn.execute(sessions.select().where(sessions.c.id == session_id))).first()
        return record(SessionRecord, row._mapping) if row else None

    async def list_sessions(self, subject: str | None, now: float) -> list[SessionRecord]:
        query = sessions.select().where(
            sessions.c.revoked_at.is_(None), sessions.c.expires_at > now
        )
        if subject is not None:
            query = query.where(sessions.c.subject == subject)
        async with self.db.connection() as conn:
            rows = (await conn.execute(query.order_by(sessions.c.created_at.desc()))).all()
        return [record(SessionRecord, row._mapping) for row in rows]

    async def revoke_session(
        self,
        session_id: str,
        now: float,
        reason: str,
        audit: AuditEvent | None = None,
        *,
        not_after: float,
    ) -> bool:
        live = sa.and_(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
        return len(await self._revoke(live, now, reason, audit, not_after)) == 1

    async def revoke_subject_sessions(
        self,
        subject: str,
        now: float,
        reason: str,
        audit: AuditEvent | None = None,
        *,
        not_after: float,
        keep: str | None = None,
    ) -> int:
        live = sa.and_(sessions.c.subject == subject, sessions.c.revoked_at.is_(None))
        if keep is not None:
            live = sa.and_(live, sessions.c.id != keep)
        return len(await self._revoke(live, now, reason, audit, not_after))

    async def _revoke(
        self,
        where: sa.ColumnElement[bool],
        now: float,
        reason: str,
        audit: AuditEvent | None,
        not_after: float,
    ) -> list[str]:
        async with self.db.transaction() as conn:
            revoked = await revoke_where(self.db, conn, where, now, reason, not_after)
            if audit is not None:
                await conn.execute(audit_events.insert().values(**values(audit)))
            return list(revoked)
