"""The refresh path: the statements every login and refresh runs, and what runs them.

A refresh finds its token (`find`) and rotates it (`rotate`: a compare-and-set on the
session's generation, the successor token and an audit row, all or nothing); a login creates a
session. These run far more often than anything else the store does, so each engine runs them
its fastest way, picked once when the store is built (`SQLStore.__init__`):

- SQLite: these Core statements, compiled once to plain SQL and run on `sqlite3` itself
  (`refresh_sqlite`);
- PostgreSQL: find and rotate on asyncpg itself, the rotation as one statement of its own
  (`refresh_postgres`).

The statements are built once, here: constructing them per call (and their cache keys, which
SQLAlchemy memoises per statement object) was a fifth of the refresh path's CPU time.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import sqlalchemy as sa

from tessera.store.records import AuditEvent, SessionRecord
from tessera.store.rows import columns, token_row
from tessera.store.schema import audit_events, refresh_tokens, sessions

# The generation the token was issued for, then its session: `found[0]`,
# `SessionRecord(*found[1:])`.
FIND_BY_HASH = (
    sa.select(
        refresh_tokens.c.generation.label("token_generation"),
        *(sessions.c[name] for name in columns(SessionRecord)),
    )
    .select_from(refresh_tokens.join(sessions))
    .where(refresh_tokens.c.token_hash == sa.bindparam("token_hash"))
)
# The compare-and-set: only from the expected generation of a live session.
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
ROTATE_CAS_WITH_CLIENT = _CAS.values(  # with an audit event: the rotating client's address too
    **_ADVANCE, ip=sa.bindparam("ip"), user_agent=sa.bindparam("user_agent")
)
INSERT_SESSION = sessions.insert()
INSERT_TOKEN = refresh_tokens.insert()
INSERT_AUDIT = audit_events.insert()


class Rotation(NamedTuple):
    """One rotation, as `Store.rotate` is asked for it."""

    session_id: str
    expected_generation: int
    new_hash: bytes
    sealed_token: bytes
    now: float
    audit: AuditEvent | None

    def compare_and_set(self) -> dict[str, Any]:
        """The parameters of `ROTATE_CAS` (of `ROTATE_CAS_WITH_CLIENT`, with an audit event)."""
        cas = {
            "session_id": self.session_id,
            "expected": self.expected_generation,
            "next": self.expected_generation + 1,
            "sealed": self.sealed_token,
            "now": self.now,
        }
        if self.audit is not None:
            cas.update(ip=self.audit.ip, user_agent=self.audit.user_agent)
        return cas

    def successor(self) -> dict[str, Any]:
        return token_row(self.new_hash, self.session_id, self.expected_generation + 1, self.now)


class RefreshPath(Protocol):
    """What `SQLStore` hands its hot statements to (see the module's docstring)."""

    async def create_session(
        self, session: SessionRecord, token_hash: bytes, audit: AuditEvent | None
    ) -> None: ...

    async def find(self, token_hash: bytes) -> tuple[int, SessionRecord] | None: ...

    async def rotate(self, rotation: Rotation) -> bool: ...

    async def close(self) -> None: ...
