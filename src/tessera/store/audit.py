"""The audit log: events appended (here, or with the change they record) and read back."""

from __future__ import annotations

from tessera.store.database import Database
from tessera.store.records import AuditEvent
from tessera.store.rows import record, values
from tessera.store.schema import audit_events


class AuditQueries:
    db: Database

    async def add_audit(self, event: AuditEvent) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(audit_events.insert().values(**values(event)))

    async def list_audit(
        self, session_id: str | None = None, subject: str | None = None, limit: int | None = None
    ) -> list[AuditEvent]:
        query = audit_events.select().order_by(audit_events.c.id.desc())
        if session_id is not None:
            query = query.where(audit_events.c.session_id == session_id)
        if subject is not None:
            query = query.where(audit_events.c.subject == subject)
        if limit is not None:
            query = query.limit(limit)
        async with self.db.connection() as conn:
            rows = (await conn.execute(query)).all()
        return [record(AuditEvent, row._mapping) for row in reversed(rows)]
