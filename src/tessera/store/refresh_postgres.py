"""The refresh path on PostgreSQL: finding and rotating a token on the asyncpg connection itself.

Through SQLAlchemy's async layer each of a refresh's two statements cost more CPU than the rest
of the refresh together: a greenlet hop, a `Connection` built and torn down, the
compiled-statement cache, a cursor adapter and a result proxy. Here each is one pool checkout
(SQLAlchemy's pool, so one connection budget and one place that reconnects) and one `fetchrow`
on the driver, whose statement cache prepares it once per connection. A connection that broke
is invalidated (the pool replaces it). Logins create sessions through SQLAlchemy Core: their
cost is the password hash.
"""

from __future__ import annotations

import warnings
from typing import Any

import asyncpg
from sqlalchemy import PoolProxiedConnection, QueuePool
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.exc import MissingGreenlet
from sqlalchemy.util import greenlet_spawn

from tessera.store.database import Database
from tessera.store.faults import Kind, as_unavailable, kind_of
from tessera.store.records import AuditEvent, SessionRecord
from tessera.store.refresh_path import (
    FIND_BY_HASH,
    INSERT_AUDIT,
    INSERT_SESSION,
    INSERT_TOKEN,
    Rotation,
)
from tessera.store.rows import token_row, values

FIND = str(FIND_BY_HASH.compile(dialect=PGDialect_asyncpg()))  # type: ignore[no-untyped-call]

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


# What a statement meets on a connection that died while pooled: worth one more try.
BROKEN = frozenset({Kind.CONNECTION, Kind.SHUTTING_DOWN})


class _Broken(Exception):
    """The connection a statement ran on was broken (see `fetchrow`)."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


class PostgresRefreshPath:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_session(
        self, session: SessionRecord, token_hash: bytes, audit: AuditEvent | None
    ) -> None:
        token = token_row(token_hash, session.id, session.generation, session.created_at)
        async with self.db.transaction() as conn:
            await conn.execute(INSERT_SESSION, values(session))
            await conn.execute(INSERT_TOKEN, token)
            if audit is not None:
                await conn.execute(INSERT_AUDIT, values(audit))

    async def find(self, token_hash: bytes) -> tuple[int, SessionRecord] | None:
        found = await self.fetchrow(FIND, token_hash)
        return (found[0], SessionRecord(*found[1:])) if found else None

    async def rotate(self, rotation: Rotation) -> bool:
        """In one statement, one round trip (see `ROTATE`)."""
        args: tuple[Any, ...] = (
            rotation.session_id,
            rotation.expected_generation,
            rotation.expected_generation + 1,
            rotation.sealed_token,
            rotation.new_hash,
            rotation.now,
        )
        statement, audit = ROTATE, rotation.audit
        if audit is not None:
            statement = ROTATE_WITH_AUDIT
            args += (
                audit.ip,
                audit.user_agent,
                audit.at,
                audit.kind,
                audit.subject,
                audit.session_id,
                audit.detail,
            )
        counted = await self.fetchrow(statement, *args)
        return counted is not None and counted[0] == 1

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        """One statement on a pooled connection, outside any transaction; outages raised as
        `DatabaseUnavailable`, after the connection that met one is discarded.

        A connection that turns out to be broken (the server closed it since it was pooled) is
        retried once on a fresh one: every connection pooled before it is discarded too. Both
        statements are safe to run twice: `find` reads, and a rotation whose first attempt did
        commit fails its compare-and-set the second time, which the caller answers as a replay
        of the current token."""
        with as_unavailable():
            try:
                return await self._fetchrow(sql, args)
            except _Broken:
                pass
            try:
                return await self._fetchrow(sql, args)
            except _Broken as broken:
                raise broken.cause  # noqa: B904 - classified by as_unavailable, as raised

    async def _fetchrow(self, sql: str, args: tuple[Any, ...]) -> asyncpg.Record | None:
        raw = self._idle_connection() or await self.db.engine.raw_connection()
        try:
            found = await self._fetchrow_on(raw, sql, args)
        except BaseException:
            await greenlet_spawn(raw.close)  # back to the pool (or discarded, if invalidated)
            raise
        await self._give_back(raw)
        return found

    async def _fetchrow_on(
        self, raw: PoolProxiedConnection, sql: str, args: tuple[Any, ...]
    ) -> asyncpg.Record | None:
        try:
            driver: asyncpg.Connection = raw.driver_connection
            return await driver.fetchrow(sql, *args)
        except Exception as exc:
            kind = kind_of(exc)
            if kind in BROKEN:
                # The server ended this connection, and most likely every other one opened
                # before it too (a restart, a failover, `pg_terminate_backend` on them all):
                # discard them all, as SQLAlchemy does after a disconnect on its own paths, so
                # that the retry runs on a fresh connection. A pooled sibling may not look
                # closed yet (see `faults.STUCK`): retried on one of those, a refresh failed
                # with a 503 in about one of every hundred while the pool was terminated.
                await greenlet_spawn(self.db.engine.pool._invalidate, raw, exc)
                raise _Broken(exc) from exc
            if kind is not None:
                await greenlet_spawn(raw.invalidate, exc)
            raise

    def _idle_connection(self) -> PoolProxiedConnection | None:
        """A connection idle in the pool, checked out here and now: the usual checkout is a
        greenlet hop there and one back, a fifth of a statement's CPU. None when checking one
        out needs I/O (no idle one, or it must be replaced: closed by the server, or due for
        recycling), which only the usual way can do."""
        engine = self.db.engine.sync_engine
        if not isinstance(engine.pool, QueuePool) or engine.pool.checkedin() == 0:
            return None
        # Where a connection must be opened (or closed) first, SQLAlchemy raises
        # `MissingGreenlet` and drops the driver's coroutine it had begun: a RuntimeWarning
        # ("never awaited") that means nothing here, since the usual way opens it next.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "coroutine .* was never awaited", RuntimeWarning)
            try:
                return engine.raw_connection()
            except MissingGreenlet:
                return None  # the slot is back in the pool, without a connection

    async def _give_back(self, raw: PoolProxiedConnection) -> None:
        """Return a connection that answered; at once when that is I/O-free: outside a
        transaction the pool's reset does nothing, and while the pool holds no more than its
        size, returning never closes one."""
        pool = self.db.engine.sync_engine.pool
        if isinstance(pool, QueuePool) and pool.overflow() <= 0:
            raw.close()
        else:
            await greenlet_spawn(raw.close)

    async def close(self) -> None:
        """Nothing of its own: it runs on the store's pool."""
