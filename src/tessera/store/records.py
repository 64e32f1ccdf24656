"""Plain records passed between the domain and the store: no SQL, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    username: str
    password_hash: str
    role: str
    created_at: float


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A login session: one refresh-token family."""

    id: str
    subject: str
    role: str
    generation: int
    created_at: float
    expires_at: float  # absolute end of life; rotation never moves it
    last_used_at: float  # start of the idle clock
    rotated_at: float | None
    sealed_token: bytes  # the current refresh token, encrypted, for grace-window replays
    revoked_at: float | None = None
    revoke_reason: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    jkt: str | None = None  # the DPoP key the session is bound to (RFC 7638 thumbprint)
    name: str | None = None  # the user's display name: the tokens' `preferred_username`


@dataclass(frozen=True, slots=True)
class AuditEvent:
    at: float
    kind: str
    subject: str | None
    session_id: str | None
    ip: str | None
    user_agent: str | None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A signing key as stored: the private half sealed, the public half as a JWK (or none)."""

    kid: str
    alg: str
    state: str  # "active" signs; "previous" only verifies until retire_at; "retired" is gone
    sealed_private: bytes
    public_jwk: str | None
    created_at: float
    activated_at: float | None
    retire_at: float | None = None


@dataclass(frozen=True, slots=True)
class Purged:
    """What one garbage-collection run removed (`skipped`: another replica was at it)."""

    sessions: int = 0
    audit_events: int = 0
    revocations: int = 0
    skipped: bool = False


@dataclass(frozen=True, slots=True)
class Revocation:
    """A revoked session as published to followers: its access tokens are dead, and none of
    them can outlive `not_after` (so a follower may forget it then). `id` orders the feed."""

    id: int
    session_id: str
    not_after: float
    at: float
