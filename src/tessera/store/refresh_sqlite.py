"""The refresh path on SQLite: `refresh_path`'s statements as plain SQL on `sqlite3`.

SQLAlchemy's execution layer cost more than SQLite itself, so the statements are compiled once
to SQLite's SQL and run on the file's own `sqlite3` connections (inline on the event loop, else
one hop to a worker thread) or, for a database in memory, on the store's pool (see
`sqlite_connections`). Logins write this way too: through aiosqlite a login held the write
lock for a dozen hops, and every refresh waited behind it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

from tessera.store.database import Database
from tessera.store.faults import as_unavailable
from tessera.store.records import AuditEvent, SessionRecord
from tessera.store.refresh_path import (
    FIND_BY_HASH,
    INSERT_AUDIT,
    INSERT_SESSION,
    INSERT_TOKEN,
    ROTATE_CAS,
    ROTATE_CAS_WITH_CLIENT,
    Rotation,
)
from tessera.store.rows import token_row, values
from tessera.store.schema import audit_events, refresh_tokens, sessions
from tessera.store.sqlite_connections import Cursor, Work, connections_to

_SQLITE = sqlite_dialect(paramstyle="named")


def _sql(statement: sa.ClauseElement, columns: Sequence[str] | None = None) -> str:
    return str(statement.compile(dialect=_SQLITE, column_keys=columns))


FIND = _sql(FIND_BY_HASH)
ROTATE = _sql(ROTATE_CAS)
ROTATE_WITH_CLIENT = _sql(ROTATE_CAS_WITH_CLIENT)
CREATE_SESSION = _sql(  # a new session is never revoked
    INSERT_SESSION, [c.name for c in sessions.c if c.name not in ("revoked_at", "revoke_reason")]
)
CREATE_TOKEN = _sql(INSERT_TOKEN, [c.name for c in refresh_tokens.c])
CREATE_AUDIT = _sql(INSERT_AUDIT, [c.name for c in audit_events.c if c.name != "id"])


class SQLiteRefreshPath:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.connections = connections_to(db.engine)

    async def read(self, work: Work) -> Any:
        """`work` on the database's connections; outages raised as `DatabaseUnavailable`."""
        with as_unavailable():
            return await self.connections.run(work, write=False)

    async def write(self, work: Work) -> Any:
        """`work` in one transaction under the store's write lock, like every SQLite write
        here (rolled back if it raises); outages raised as `DatabaseUnavailable`."""
        with as_unavailable():
            async with self.db.write_lock():
                return await self.connections.run(work, write=True)

    async def create_session(
        self, session: SessionRecord, token_hash: bytes, audit: AuditEvent | None
    ) -> None:
        row = values(session)
        token = token_row(token_hash, session.id, session.generation, session.created_at)
        event = values(audit) if audit is not None else None

        def create(cursor: Cursor) -> None:
            cursor.execute(CREATE_SESSION, row)
            cursor.execute(CREATE_TOKEN, token)
            if event is not None:
                cursor.execute(CREATE_AUDIT, event)

        await self.write(create)

    async def find(self, token_hash: bytes) -> tuple[int, SessionRecord] | None:
        params = {"token_hash": token_hash}

        def find(cursor: Cursor) -> Any:
            cursor.execute(FIND, params)
            return cursor.fetchone()

        found = await self.read(find)
        return (found[0], SessionRecord(*found[1:])) if found else None

    async def rotate(self, rotation: Rotation) -> bool:
        compare_and_set = ROTATE if rotation.audit is None else ROTATE_WITH_CLIENT
        cas, successor = rotation.compare_and_set(), rotation.successor()
        event = values(rotation.audit) if rotation.audit is not None else None

        def rotate(cursor: Cursor) -> bool:
            cursor.execute(compare_and_set, cas)
            if cursor.rowcount != 1:
                return False
            cursor.execute(CREATE_TOKEN, successor)
            if event is not None:
                cursor.execute(CREATE_AUDIT, event)
            return True

        return bool(await self.write(rotate))

    async def close(self) -> None:
        self.connections.close()
