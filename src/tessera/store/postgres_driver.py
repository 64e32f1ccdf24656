"""PostgreSQL's refresh-path statements on the asyncpg connection itself.

A refresh runs two statements (find the token, rotate it). Through SQLAlchemy's async layer each
one cost more CPU than the rest of the refresh together: a greenlet hop, a `Connection` built and
torn down, the compiled-statement cache, a cursor adapter and a result proxy. Here each is one
pool checkout (SQLAlchemy's pool, so one connection budget and one place that reconnects) and one
`fetchrow` on the driver, whose statement cache prepares it once per connection.

Errors keep the contract of the rest of the store: a connection that met an outage is
invalidated (the pool replaces it) and the outage raised as `DatabaseUnavailable` (503).
"""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.expression import ClauseElement
from sqlalchemy.util import greenlet_spawn

from tessera.store.faults import as_unavailable, classify

_DIALECT = PGDialect_asyncpg()  # type: ignore[no-untyped-call]


def compiled(statement: ClauseElement) -> str:
    """A Core statement as PostgreSQL SQL with the driver's `$n` parameters."""
    return str(statement.compile(dialect=_DIALECT))


# The rotation in one statement (autocommit: it is its own transaction). The compare-and-set
# UPDATE advances the session only from the expected generation of a live session; the
# successor token and the audit row are inserted from its RETURNING, so they exist only if it
# did. A concurrent rotation or revocation makes it re-check the WHERE on the new row version
# and match nothing. Parameters: $1 id, $2 expected, $3 next, $4 sealed, $5 hash, $6 now.
_ROTATE = """
WITH cas AS (
    UPDATE sessions
    SET generation = $3::integer, sealed_token = $4::bytea,
        rotated_at = $6::double precision, last_used_at = $6::double precision{client}
    WHERE id = $1::varchar AND generation = $2::integer AND revoked_at IS NULL
    RETURNING id
), successor AS (
    INSERT INTO refresh_tokens (token_hash, session_id, generation, issued_at)
    SELECT $5::bytea, id, $3::integer, $6::double precision FROM cas
){audit}
SELECT count(*) FROM cas
"""
# With an audit row (and the client's address on the session): $7 ip, $8 user agent,
# $9 at, $10 kind, $11 subject, $12 the audit row's session id, $13 detail.
_CLIENT = ", ip = $7::varchar, user_agent = $8::varchar"
_AUDIT = """, audit AS (
    INSERT INTO audit_events (at, kind, subject, session_id, ip, user_agent, detail)
    SELECT $9::double precision, $10::varchar, $11::varchar, $12::varchar, $7::varchar,
        $8::varchar, $13::varchar
    FROM cas
)"""
ROTATE = _ROTATE.format(client="", audit="")
ROTATE_WITH_AUDIT = _ROTATE.format(client=_CLIENT, audit=_AUDIT)


async def fetchrow(engine: AsyncEngine, sql: str, *args: Any) -> asyncpg.Record | None:
    """One statement on a pooled connection of `engine`, outside any transaction."""
    with as_unavailable():
        raw = await engine.raw_connection()
        try:
            driver: asyncpg.Connection = raw.driver_connection
            return await driver.fetchrow(sql, *args)
        except Exception as exc:
            if classify(exc) is not None:
                await greenlet_spawn(raw.invalidate, exc)
            raise
        finally:
            await greenlet_spawn(raw.close)  # back to the pool (or discarded, if invalidated)
