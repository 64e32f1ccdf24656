"""The `Store` on SQLAlchemy Core with async drivers: SQLite (aiosqlite) and PostgreSQL (asyncpg).

Dialect differences stay in `connect()`; the statements are portable.
"""

from __future__ import annotations

import asyncio
import inspect
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from tessera.store import postgres_driver as driver
from tessera.store.base import KeyConflict, UserExists
from tessera.store.faults import as_unavailable
from tessera.store.file_modes import private_sqlite_files
from tessera.store.records import (
    AuditEvent,
    KeyRecord,
    Purged,
    Revocation,
    SessionRecord,
    UserRecord,
)
from tessera.store.schema import (
    audit_events,
    refresh_tokens,
    revocations,
    sessions,
    signing_keys,
    users,
)

SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_HOT_PATH_THREADS = 4
GC_LOCK = 0x7E55E7A2  # advisory-lock key: one garbage collector at a time
REVOCATION_LOCK = 0x7E55E7A3  # advisory-lock key: revocations commit one at a time
REVOCATION_CHANNEL = "tessera_revocations"  # PostgreSQL NOTIFY channel: "a revocation committed"


def connect(
    url: str, *, pool_size: int = 20, max_overflow: int = 0, statement_timeout: float = 5.0
) -> AsyncEngine:
    """An engine for `url` (already in `dialect+driver://` form), tuned per dialect."""
    if url.startswith("sqlite"):
        private_sqlite_files(url)  # before SQLite creates the file with its own mode
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # PostgreSQL: a bounded pool, and a statement timeout so one stuck query cannot hold a
    # connection forever. Connections broken by an outage are discarded by SQLAlchemy on the
    # first error, and the pool reconnects by itself once the server is back.
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=statement_timeout,
        pool_recycle=1800,
        connect_args={
            "timeout": statement_timeout,
            "command_timeout": statement_timeout * 2,
            "server_settings": {
                "statement_timeout": str(int(statement_timeout * 1000)),
                "application_name": "tessera",
            },
        },
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_sync_twin(engine: AsyncEngine) -> Engine | None:
    """For a SQLite file: a synchronous engine on the same file, for the refresh hot path.

    aiosqlite hands every cursor call to its thread and back (about ten hops for one
    transaction, each costing a GIL hand-over on a busy loop); a whole statement sequence on
    this engine inside one worker thread is one hop. In-memory databases have no twin (a second
    engine would open a second database)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    twin = sa.create_engine(
        engine.url.set(drivername="sqlite"),
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=SQLITE_HOT_PATH_THREADS,
    )
    event.listen(twin, "connect", _sqlite_pragmas)
    return twin


def _sqlite_inline_connection(twin: Engine | None) -> sqlite3.Connection | None:
    """One more connection on the same file, for the refresh path on the event loop itself.

    A statement sequence of the hot path takes SQLite tens of microseconds; a hop to a worker
    thread and back costs more than that, and on a busy loop the GIL hand-over waits (the
    switch interval is 5 ms) dominated refresh latency. This connection never waits for a lock
    (busy timeout 0): when another process holds the database, the caller falls back to the
    worker threads, which wait as usual, so the loop is never blocked on a lock."""
    if twin is None or twin.url.database is None:
        return None
    inline = sqlite3.connect(twin.url.database, timeout=0, check_same_thread=False)
    # Per-connection settings only (none takes a lock): WAL is the file's, set by the pool's
    # connections before any refresh can run.
    inline.execute("PRAGMA synchronous=NORMAL")
    inline.execute("PRAGMA foreign_keys=ON")
    inline.execute("PRAGMA busy_timeout=0")
    return inline


def _in_transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Cursor], Any]) -> Any:
    """`work` in one write transaction, taking the write lock up front (so a busy database
    fails at BEGIN, before anything ran)."""
    cursor = conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(cursor)
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
    return result


def _session(row: Mapping[Any, Any]) -> SessionRecord:
    """From a row's mapping: SQLAlchemy's `row._mapping` or an asyncpg record."""
    return SessionRecord(
        id=row["id"],
        subject=row["subject"],
        role=row["role"],
        generation=row["generation"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        last_used_at=row["last_used_at"],
        rotated_at=row["rotated_at"],
        sealed_token=bytes(row["sealed_token"]),
        revoked_at=row["revoked_at"],
        revoke_reason=row["revoke_reason"],
        ip=row["ip"],
        user_agent=row["user_agent"],
    )


def _user(row: Any) -> UserRecord:
    return UserRecord(
        id=row.id,
        username=row.username,
        password_hash=row.password_hash,
        role=row.role,
        created_at=row.created_at,
    )


def _key(row: Any) -> KeyRecord:
    return KeyRecord(
        kid=row.kid,
        alg=row.alg,
        state=row.state,
        sealed_private=bytes(row.sealed_private),
        public_jwk=row.public_jwk,
        created_at=row.created_at,
        activated_at=row.activated_at,
        retire_at=row.retire_at,
    )


def _audit_values(event_: AuditEvent) -> dict[str, Any]:
    return {
        "at": event_.at,
        "kind": event_.kind,
        "subject": event_.subject,
        "session_id": event_.session_id,
        "ip": event_.ip,
        "user_agent": event_.user_agent,
        "detail": event_.detail,
    }


LISTENER_SETTINGS = {"application_name": "tessera-revocations"}

# The refresh path's statements, built once: constructing them per call (and their cache keys,
# which SQLAlchemy memoises per statement object) was a fifth of its CPU time.
FIND_BY_HASH = (
    sa.select(refresh_tokens.c.generation.label("token_generation"), sessions)
    .select_from(refresh_tokens.join(sessions))
    .where(refresh_tokens.c.token_hash == sa.bindparam("token_hash"))
)
PG_FIND_BY_HASH = driver.compiled(FIND_BY_HASH)
_CAS = sessions.update().where(
    sessions.c.id == sa.bindparam("session_id"),
    sessions.c.generation == sa.bindparam("expected"),
    sessions.c.revoked_at.is_(None),
)
_ADVANCE: dict[str, Any] = {
    "generation": sa.bindparam("next"),
    "sealed_token": sa.bindparam("sealed"),
    "rotated_at": sa.bindparam("now"),
    "last_used_at": sa.bindparam("now"),
}
ROTATE_CAS = _CAS.values(**_ADVANCE)
ROTATE_CAS_WITH_CLIENT = _CAS.values(
    **_ADVANCE, ip=sa.bindparam("ip"), user_agent=sa.bindparam("user_agent")
)
INSERT_SESSION = sessions.insert()
INSERT_TOKEN = refresh_tokens.insert()
INSERT_AUDIT = audit_events.insert()

# The same statements as SQLite SQL with named parameters, for the hot path on `sqlite3`.
_SQLITE = sqlite_dialect(paramstyle="named")


def _sqlite_sql(statement: sa.ClauseElement, columns: Sequence[str] | None = None) -> str:
    return str(statement.compile(dialect=_SQLITE, column_keys=columns))


SQLITE_FIND_BY_HASH = _sqlite_sql(FIND_BY_HASH)
SQLITE_ROTATE_CAS = _sqlite_sql(ROTATE_CAS)
SQLITE_ROTATE_CAS_WITH_CLIENT = _sqlite_sql(ROTATE_CAS_WITH_CLIENT)
SQLITE_INSERT_SESSION = _sqlite_sql(  # a new session is never revoked
    INSERT_SESSION, [c.name for c in sessions.c if c.name not in ("revoked_at", "revoke_reason")]
)
SQLITE_INSERT_TOKEN = _sqlite_sql(INSERT_TOKEN, [c.name for c in refresh_tokens.c])
SQLITE_INSERT_AUDIT = _sqlite_sql(  # the id is the database's
    INSERT_AUDIT, [c.name for c in audit_events.c if c.name != "id"]
)


class SQLStore:
    """`Store` over one SQLAlchemy async engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # SQLite allows one writer at a time; connections that contend for it back off in
        # sleeps of up to 100 ms. Queueing this process's writers here avoids that entirely
        # (one lock per event loop: a lock cannot be shared between loops).
        self._serialise_writes = engine.dialect.name == "sqlite"
        self._write_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        # SQLite only: the refresh path's read and its transaction, each in one thread hop.
        self._sync = _sqlite_sync_twin(engine)
        self._threads = (
            ThreadPoolExecutor(SQLITE_HOT_PATH_THREADS, thread_name_prefix="tessera-sqlite")
            if self._sync is not None
            else None
        )
        self._inline = _sqlite_inline_connection(self._sync)
        # PostgreSQL only: the refresh path's two statements on asyncpg (`postgres_driver`).
        self._postgres = engine.dialect.name == "postgresql"

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SQLStore:
        return cls(connect(url, **options))

    def _write_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._write_locks.get(loop)
        if lock is None:
            lock = self._write_locks[loop] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        with as_unavailable():
            if not self._serialise_writes:
                async with self.engine.begin() as conn:
                    yield conn
                return
            async with self._write_lock(), self.engine.begin() as conn:
                yield conn

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        with as_unavailable():
            async with self.engine.connect() as conn:
                yield conn

    async def ping(self) -> None:
        async with self._connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()
        if self._sync is not None and self._threads is not None:
            self._threads.shutdown(wait=True)
            self._sync.dispose()
        if self._inline is not None:
            self._inline.close()

    async def _in_thread(self, work: Callable[[sqlite3.Cursor], Any], *, write: bool) -> Any:
        """Run `work` on the driver's connection to the same file, in one transaction (a write
        under the lock, like every SQLite write here): on the event loop when the database is
        free at once, else in one worker-thread hop that waits for the lock as usual. The hot
        path's statements are plain SQL on `sqlite3` (SQLAlchemy's execution layer cost more
        than SQLite itself). Outages are raised as `DatabaseUnavailable`."""
        assert self._sync is not None and self._threads is not None
        with as_unavailable():
            if not write:
                done = self._inline_try(work, write=False)
                return done[0] if done else await self._threaded(work, False)
            async with self._write_lock():
                done = self._inline_try(work, write=True)
                return done[0] if done else await self._threaded(work, True)

    def _inline_try(
        self, work: Callable[[sqlite3.Cursor], Any], *, write: bool
    ) -> tuple[Any] | None:
        """`(result,)` from the inline connection, or None when SQLite was busy (nothing was
        changed: the transaction rolled back)."""
        if self._inline is None:
            return None
        try:
            result = _in_transaction(self._inline, work) if write else work(self._inline.cursor())
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            return None
        return (result,)

    async def _threaded(self, work: Callable[[sqlite3.Cursor], Any], write: bool) -> Any:
        assert self._sync is not None and self._threads is not None
        engine = self._sync

        def run() -> Any:
            raw = engine.raw_connection()  # the pool's sqlite3 connection, waiting for locks
            try:
                conn: sqlite3.Connection = raw.driver_connection  # type: ignore[assignment]
                return _in_transaction(conn, work) if write else work(conn.cursor())
            finally:
                raw.close()

        return await asyncio.get_running_loop().run_in_executor(self._threads, run)

    # users -----------------------------------------------------------------------------------

    async def add_user(self, user: UserRecord) -> None:
        try:
            async with self._tx() as conn:
                await conn.execute(
                    users.insert().values(
                        id=user.id,
                        username=user.username,
                        password_hash=user.password_hash,
                        role=user.role,
                        created_at=user.created_at,
                    )
                )
        except IntegrityError as exc:
            raise UserExists(user.username) from exc

    async def get_user_by_name(self, username: str) -> UserRecord | None:
        async with self._connect() as conn:
            row = (await conn.execute(users.select().where(users.c.username == username))).first()
        return _user(row) if row else None

    async def list_users(self) -> list[UserRecord]:
        async with self._connect() as conn:
            rows = (await conn.execute(users.select().order_by(users.c.username))).all()
        return [_user(row) for row in rows]

    async def remove_user(self, username: str, now: float, not_after: float) -> bool:
        async with self._tx() as conn:
            row = (
                await conn.execute(sa.select(users.c.id).where(users.c.username == username))
            ).first()
            if row is None:
                return False
            await self._revoke_where(
                conn,
                sa.and_(sessions.c.subject == row.id, sessions.c.revoked_at.is_(None)),
                now,
                "user_removed",
                not_after,
            )
            await conn.execute(users.delete().where(users.c.id == row.id))
            return True

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        async with self._tx() as conn:
            await conn.execute(
                users.update().where(users.c.id == user_id).values(password_hash=password_hash)
            )

    # sessions --------------------------------------------------------------------------------

    async def create_session(
        self, session: SessionRecord, token_hash: bytes, audit: AuditEvent | None = None
    ) -> None:
        row = {
            "id": session.id,
            "subject": session.subject,
            "role": session.role,
            "generation": session.generation,
            "created_at": session.created_at,
            "expires_at": session.expires_at,
            "last_used_at": session.last_used_at,
            "rotated_at": session.rotated_at,
            "sealed_token": session.sealed_token,
            "ip": session.ip,
            "user_agent": session.user_agent,
        }
        token = {
            "token_hash": token_hash,
            "session_id": session.id,
            "generation": session.generation,
            "issued_at": session.created_at,
        }
        record = _audit_values(audit) if audit is not None else None
        if self._sync is not None:
            # On SQLite as the refresh path writes (inline, else one thread hop): through
            # aiosqlite a login held the write lock for a dozen hops, and every refresh
            # waited behind it.
            def create(cursor: sqlite3.Cursor) -> None:
                cursor.execute(SQLITE_INSERT_SESSION, row)
                cursor.execute(SQLITE_INSERT_TOKEN, token)
                if record is not None:
                    cursor.execute(SQLITE_INSERT_AUDIT, record)

            await self._in_thread(create, write=True)
            return
        async with self._tx() as conn:
            await conn.execute(INSERT_SESSION, row)
            await conn.execute(INSERT_TOKEN, token)
            if record is not None:
                await conn.execute(INSERT_AUDIT, record)

    async def find_by_refresh_hash(self, token_hash: bytes) -> tuple[int, SessionRecord] | None:
        params = {"token_hash": token_hash}
        if self._sync is not None:

            def find(cursor: sqlite3.Cursor) -> Any:
                cursor.row_factory = sqlite3.Row
                return cursor.execute(SQLITE_FIND_BY_HASH, params).fetchone()

            found = await self._in_thread(find, write=False)
            return (found["token_generation"], _session(found)) if found else None
        elif self._postgres:
            record = await driver.fetchrow(self.engine, PG_FIND_BY_HASH, token_hash)
            return (record["token_generation"], _session(record)) if record else None
        else:
            async with self._connect() as conn:
                row = (await conn.execute(FIND_BY_HASH, params)).first()
        return (row.token_generation, _session(row._mapping)) if row else None

    async def rotate(
        self,
        session_id: str,
        expected_generation: int,
        new_hash: bytes,
        sealed_token: bytes,
        now: float,
        audit: AuditEvent | None = None,
    ) -> bool:
        if self._postgres:
            return await self._rotate_postgres(
                session_id, expected_generation, new_hash, sealed_token, now, audit
            )
        cas = {
            "session_id": session_id,
            "expected": expected_generation,
            "next": expected_generation + 1,
            "sealed": sealed_token,
            "now": now,
        }
        compare_and_set, sqlite_cas = ROTATE_CAS, SQLITE_ROTATE_CAS
        if audit is not None:
            compare_and_set, sqlite_cas = ROTATE_CAS_WITH_CLIENT, SQLITE_ROTATE_CAS_WITH_CLIENT
            cas.update(ip=audit.ip, user_agent=audit.user_agent)
        successor = {
            "token_hash": new_hash,
            "session_id": session_id,
            "generation": expected_generation + 1,
            "issued_at": now,
        }
        record = _audit_values(audit) if audit else None
        if self._sync is not None:

            def rotate(cursor: sqlite3.Cursor) -> bool:
                if cursor.execute(sqlite_cas, cas).rowcount != 1:
                    return False
                cursor.execute(SQLITE_INSERT_TOKEN, successor)
                if record is not None:
                    cursor.execute(SQLITE_INSERT_AUDIT, record)
                return True

            return bool(await self._in_thread(rotate, write=True))
        async with self._tx() as conn:
            if (await conn.execute(compare_and_set, cas)).rowcount != 1:
                return False
            await conn.execute(INSERT_TOKEN, successor)
            if record is not None:
                await conn.execute(INSERT_AUDIT, record)
            return True

    async def _rotate_postgres(
        self,
        session_id: str,
        expected_generation: int,
        new_hash: bytes,
        sealed_token: bytes,
        now: float,
        audit: AuditEvent | None,
    ) -> bool:
        """`rotate` in one statement, one round trip (see `driver.ROTATE`)."""
        args: tuple[Any, ...] = (
            session_id,
            expected_generation,
            expected_generation + 1,
            sealed_token,
            new_hash,
            now,
        )
        statement = driver.ROTATE
        if audit is not None:
            statement = driver.ROTATE_WITH_AUDIT
            args += (
                audit.ip,
                audit.user_agent,
                audit.at,
                audit.kind,
                audit.subject,
                audit.session_id,
                audit.detail,
            )
        record = await driver.fetchrow(self.engine, statement, *args)
        return record is not None and record[0] == 1

    async def get_session(self, session_id: str) -> SessionRecord | None:
        async with self._connect() as conn:
            row = (await conn.execute(sessions.select().where(sessions.c.id == session_id))).first()
        return _session(row._mapping) if row else None

    async def list_sessions(self, subject: str | None, now: float) -> list[SessionRecord]:
        query = sessions.select().where(
            sessions.c.revoked_at.is_(None), sessions.c.expires_at > now
        )
        if subject is not None:
            query = query.where(sessions.c.subject == subject)
        async with self._connect() as conn:
            rows = (await conn.execute(query.order_by(sessions.c.created_at.desc()))).all()
        return [_session(row._mapping) for row in rows]

    async def revoke_session(
        self,
        session_id: str,
        now: float,
        reason: str,
        audit: AuditEvent | None = None,
        *,
        not_after: float,
    ) -> bool:
        async with self._tx() as conn:
            revoked = await self._revoke_where(
                conn,
                sa.and_(sessions.c.id == session_id, sessions.c.revoked_at.is_(None)),
                now,
                reason,
                not_after,
            )
            if audit is not None:
                await conn.execute(audit_events.insert().values(**_audit_values(audit)))
            return len(revoked) == 1

    async def revoke_subject_sessions(
        self,
        subject: str,
        now: float,
        reason: str,
        audit: AuditEvent | None = None,
        *,
        not_after: float,
    ) -> int:
        async with self._tx() as conn:
            revoked = await self._revoke_where(
                conn,
                sa.and_(sessions.c.subject == subject, sessions.c.revoked_at.is_(None)),
                now,
                reason,
                not_after,
            )
            if audit is not None:
                await conn.execute(audit_events.insert().values(**_audit_values(audit)))
            return len(revoked)

    async def _revoke_where(
        self, conn: AsyncConnection, where: Any, now: float, reason: str, not_after: float
    ) -> Sequence[str]:
        """Revoke the matching sessions and publish exactly those (UPDATE … RETURNING: a
        session created meanwhile is either in both or in neither)."""
        ids = (
            (
                await conn.execute(
                    sessions.update()
                    .where(where)
                    .values(revoked_at=now, revoke_reason=reason)
                    .returning(sessions.c.id)
                )
            )
            .scalars()
            .all()
        )
        if ids:
            if conn.dialect.name == "postgresql":
                # Held to commit: ids are then taken and committed in the same order, so a
                # follower that has read id n can never later find a smaller one (SQLite's
                # writers are serialised anyway). Revocations are rare; the wait is short.
                await conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": REVOCATION_LOCK}
                )
            await conn.execute(
                revocations.insert(),
                [{"session_id": id_, "not_after": not_after, "at": now} for id_ in ids],
            )
            if conn.dialect.name == "postgresql":
                # Delivered to every LISTENing replica when this transaction commits.
                await conn.execute(
                    sa.text("SELECT pg_notify(:channel, '')"), {"channel": REVOCATION_CHANNEL}
                )
        return list(ids)

    # revocation feed -------------------------------------------------------------------------

    async def revocations_after(self, cursor: int, limit: int) -> list[Revocation]:
        query = (
            revocations.select()
            .where(revocations.c.id > cursor)
            .order_by(revocations.c.id)
            .limit(limit)
        )
        async with self._connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Revocation(r.id, r.session_id, r.not_after, r.at) for r in rows]

    @asynccontextmanager
    async def revocation_notices(
        self, wake: Callable[[], None], lost: Callable[[], None] | None = None
    ) -> AsyncIterator[bool]:
        """PostgreSQL: a connection of its own LISTENs on the revocation channel (outside the
        pool, which it would otherwise hold forever). `lost()` is called if it drops."""
        if self.engine.dialect.name != "postgresql":
            yield False
            return
        # The same address, credentials and TLS options as the pool's connections.
        args, options = self.engine.dialect.create_connect_args(self.engine.url)
        accepted = inspect.signature(asyncpg.connect).parameters  # not SQLAlchemy's own options
        options = {k: v for k, v in options.items() if k in accepted}
        options.update(timeout=10, server_settings=LISTENER_SETTINGS)
        with as_unavailable():
            conn = await asyncpg.connect(*args, **options)
        try:
            with as_unavailable():
                await conn.add_listener(REVOCATION_CHANNEL, lambda *_: wake())
            if lost is not None:
                conn.add_termination_listener(lambda _conn: lost())
            yield True
        finally:
            with suppress(Exception):
                await conn.close(timeout=2)

    async def add_audit(self, event_: AuditEvent) -> None:
        async with self._tx() as conn:
            await conn.execute(audit_events.insert().values(**_audit_values(event_)))

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
        async with self._connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            AuditEvent(
                at=r.at,
                kind=r.kind,
                subject=r.subject,
                session_id=r.session_id,
                ip=r.ip,
                user_agent=r.user_agent,
                detail=r.detail,
            )
            for r in reversed(rows)
        ]

    # garbage collection ----------------------------------------------------------------------

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
        async with self._gc_lock() as acquired:
            if not acquired:
                return Purged(skipped=True)
            removed_sessions = await self._purge_batches(
                sessions, sessions.c.id, dead, batch, max_batches
            )
            removed_audit = await self._purge_batches(
                audit_events, audit_events.c.id, old_audit, batch, max_batches
            )
            removed_revocations = await self._purge_batches(
                revocations,
                revocations.c.id,
                revocations.c.not_after < revocations_before,
                batch,
                max_batches,
            )
        return Purged(
            sessions=removed_sessions,
            audit_events=removed_audit,
            revocations=removed_revocations,
        )

    async def _purge_batches(
        self, table: sa.Table, key: sa.Column[Any], where: Any, batch: int, max_batches: int
    ) -> int:
        """Short transactions of at most `batch` rows, so the purge never holds locks long."""
        total = 0
        for _ in range(max_batches):
            chosen = sa.select(key).where(where).limit(batch).scalar_subquery()
            async with self._tx() as conn:
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

    @asynccontextmanager
    async def _gc_lock(self) -> AsyncIterator[bool]:
        """One replica collects at a time: a PostgreSQL advisory lock (SQLite: always)."""
        if self.engine.dialect.name != "postgresql":
            yield True
            return
        async with self._connect() as conn:
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

    # signing keys ----------------------------------------------------------------------------

    async def list_keys(self) -> list[KeyRecord]:
        async with self._connect() as conn:
            rows = (
                await conn.execute(signing_keys.select().order_by(signing_keys.c.created_at))
            ).all()
        return [_key(row) for row in rows]

    async def add_key(self, key: KeyRecord, previous_retire_at: float | None) -> None:
        try:
            async with self._tx() as conn:
                if key.state == "active":
                    await conn.execute(
                        signing_keys.update()
                        .where(signing_keys.c.state == "active")
                        .values(state="previous", retire_at=previous_retire_at)
                    )
                await conn.execute(signing_keys.insert().values(**_key_values(key)))
        except IntegrityError as exc:
            raise KeyConflict(key.kid) from exc

    async def add_next_key(self, key: KeyRecord) -> bool:
        try:
            async with self._tx() as conn:
                waiting = (
                    await conn.execute(
                        sa.select(signing_keys.c.kid).where(signing_keys.c.state == "next")
                    )
                ).first()
                if waiting is not None:
                    return False
                await conn.execute(signing_keys.insert().values(**_key_values(key)))
                return True
        except IntegrityError:
            return False  # another replica made it first (one "next" key, by a unique index)

    async def promote_next_key(
        self, next_kid: str, active_kid: str, now: float, previous_retire_at: float
    ) -> bool:
        async with self._tx() as conn:
            demoted = await conn.execute(
                signing_keys.update()
                .where(signing_keys.c.kid == active_kid, signing_keys.c.state == "active")
                .values(state="previous", retire_at=previous_retire_at)
            )
            if demoted.rowcount != 1:
                await conn.rollback()
                return False
            promoted = await conn.execute(
                signing_keys.update()
                .where(signing_keys.c.kid == next_kid, signing_keys.c.state == "next")
                .values(state="active", activated_at=now)
            )
            if promoted.rowcount != 1:
                await conn.rollback()
                return False
            return True

    async def retire_keys(self, now: float) -> int:
        async with self._tx() as conn:
            result = await conn.execute(
                signing_keys.update()
                .where(signing_keys.c.state == "previous", signing_keys.c.retire_at <= now)
                .values(state="retired")
            )
            return int(result.rowcount)

    async def add_first_key(self, key: KeyRecord) -> bool:
        try:
            async with self._tx() as conn:
                active = (
                    await conn.execute(
                        sa.select(signing_keys.c.kid).where(signing_keys.c.state == "active")
                    )
                ).first()
                if active is not None:
                    return False
                await conn.execute(signing_keys.insert().values(**_key_values(key)))
                return True
        except IntegrityError:
            return False


def _key_values(key: KeyRecord) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "alg": key.alg,
        "state": key.state,
        "sealed_private": key.sealed_private,
        "public_jwk": key.public_jwk,
        "created_at": key.created_at,
        "activated_at": key.activated_at,
        "retire_at": key.retire_at,
    }
