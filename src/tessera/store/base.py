"""The persistence interface the domain talks to. SQL lives behind it, nowhere else.

Every method is one short transaction. The two that decide security — `rotate` and
`revoke_session` — are atomic compare-and-sets, so concurrent callers (tasks, processes,
replicas) can never both win. Every revocation also appends a `Revocation` row in the same
transaction, which other replicas and verifiers follow (`revocations_after`). When the database
cannot answer, every method raises `tessera.store.faults.DatabaseUnavailable` (a 503).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from tessera.store.records import (
    AuditEvent,
    KeyRecord,
    Purged,
    Revocation,
    SessionRecord,
    UserRecord,
)


class UserExists(Exception):
    """A username that is already taken."""


class KeyConflict(Exception):
    """Another writer changed the key ring at the same moment (e.g. two replicas rotating)."""


class Store(Protocol):
    async def ping(self) -> None:
        """Raise (`DatabaseUnavailable`) if the database cannot be reached."""

    async def close(self) -> None: ...

    # users
    async def add_user(self, user: UserRecord) -> None: ...
    async def get_user_by_name(self, username: str) -> UserRecord | None: ...
    async def list_users(self) -> list[UserRecord]: ...
    async def remove_user(self, username: str, now: float, not_after: float) -> bool:
        """Delete the user and revoke their sessions (published, with `not_after`)."""

    async def set_password_hash(self, user_id: str, password_hash: str) -> None: ...

    # sessions
    async def create_session(
        self, session: SessionRecord, token_hash: bytes, audit: AuditEvent | None = None
    ) -> None:
        """Store a new session, its first refresh token's hash and `audit`, atomically."""

    async def find_by_refresh_hash(self, token_hash: bytes) -> tuple[int, SessionRecord] | None:
        """The generation the token was issued for, and its session."""

    async def rotate(
        self,
        session_id: str,
        expected_generation: int,
        new_hash: bytes,
        sealed_token: bytes,
        now: float,
        audit: AuditEvent | None = None,
    ) -> bool:
        """Advance the session one generation, only if it is still at `expected_generation`
        and not revoked, recording the rotating client's address and `audit` in the same
        transaction. False means another caller got there first."""

    async def get_session(self, session_id: str) -> SessionRecord | None: ...
    async def list_sessions(self, subject: str | None, now: float) -> list[SessionRecord]:
        """Sessions not revoked and not past their absolute end, newest first."""

    async def revoke_session(
        self,
        session_id: str,
        now: float,
        reason: str,
        audit: AuditEvent | None = None,
        *,
        not_after: float,
    ) -> bool:
        """Revoke if not yet revoked, writing `audit` and the published `Revocation` (whose
        tokens end by `not_after`) in the same transaction."""

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
        """Revoke every live session of `subject` but `keep` (the caller's own, when signing
        out its other devices); how many."""

    # revocation feed
    async def revocations_after(self, cursor: int, limit: int) -> list[Revocation]:
        """Published revocations with an id above `cursor`, in id order, at most `limit`."""

    def revocation_notices(
        self, wake: Callable[[], None], lost: Callable[[], None] | None = None
    ) -> AbstractAsyncContextManager[bool]:
        """While open, call `wake()` soon after any process commits a revocation, and
        `lost()` if notices stop. Yields False where the database cannot push notices
        (followers then rely on polling)."""

    async def add_audit(self, event: AuditEvent) -> None: ...
    async def list_audit(
        self, session_id: str | None = None, subject: str | None = None, limit: int | None = None
    ) -> list[AuditEvent]:
        """Audit events, oldest first (with `limit`: the newest `limit` of them)."""

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
        """Delete, in batches, sessions revoked or ended (absolute end, or last use) before the
        given times — their refresh tokens go with them — audit events older than
        `audit_before` and revocations whose tokens all ended before `revocations_before`.
        Only one caller at a time across replicas does the work."""

    # signing keys
    async def list_keys(self) -> list[KeyRecord]: ...
    async def add_key(self, key: KeyRecord, previous_retire_at: float | None) -> None:
        """Store `key`; if it is active, the old active key becomes "previous" until
        `previous_retire_at`."""

    async def add_first_key(self, key: KeyRecord) -> bool:
        """Store `key` as the active key only if there is none yet."""

    async def add_next_key(self, key: KeyRecord) -> bool:
        """Store `key` as the pre-published "next" key, only if there is none yet."""

    async def promote_next_key(
        self, next_kid: str, active_kid: str, now: float, previous_retire_at: float
    ) -> bool:
        """Atomically: the active key becomes "previous" (verifying until `previous_retire_at`)
        and the next key becomes active — only if both are still in those states."""

    async def retire_keys(self, now: float) -> int:
        """Mark "previous" keys past their retirement time as "retired"."""
