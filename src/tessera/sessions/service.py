"""The refresh state machine: open, rotate, grace, reuse detection, expiry, revocation.

A session is one refresh-token family. Each refresh presents the newest token and gets its
successor; the store advances the generation with a compare-and-set, so two concurrent
refreshes cannot both rotate. The loser re-reads and finds itself inside the grace window,
where presenting the just-rotated token returns *the same* current token (kept sealed, never
in plaintext). Outside the window an old token is theft: the whole session dies.

A session opened with a DPoP proof is bound to that key (`jkt`, its thumbprint): it refreshes
only with a proof by the same key, and a refresh without one changes nothing — no rotation,
no revocation, only an audit event — so a stolen token alone can neither use nor kill it. For
such a session the immediate predecessor of the current token, presented by the key holder,
returns the current token for as long as the session lives: a client that lost a refresh
response is not taken for a thief.

Every revocation is published by the store with the latest `exp` the session's access tokens
can have, and `on_revoke` runs once it has committed (the server uses it to refuse those
tokens at once, before answering).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from tessera.clock import Clock
from tessera.errors import InvalidDPoPProof, InvalidGrant, RefreshTokenReused, Unavailable
from tessera.sealing import Sealer, SealError
from tessera.sessions.refresh_token import (
    new_refresh_token,
    seal_context,
    token_hash,
    well_formed,
)
from tessera.store import AuditEvent, SessionRecord, Store

log = logging.getLogger("tessera.sessions")
ROTATE_ATTEMPTS = 4
# An access token being minted as the session is revoked is signed a moment later: published
# revocations cover that moment too.
MINT_MARGIN = 5.0


REFUSAL_AUDIT_EVERY = 60.0  # seconds: one audit event per session, address and kind of refusal
MAX_REMEMBERED = 10_000


class Once:
    """Whether something is new within `every` seconds (bounded: forgets all when full), so
    a thief hammering with a stolen token leaves one audit row a minute, not thousands."""

    def __init__(self, every: float) -> None:
        self.every = every
        self._seen: dict[str, float] = {}

    def first(self, key: str, now: float) -> bool:
        seen = self._seen.get(key)
        if seen is not None and now - seen < self.every:
            return False
        if len(self._seen) >= MAX_REMEMBERED:
            self._seen.clear()
        self._seen[key] = now
        return True


@dataclass(frozen=True)
class SessionPolicy:
    idle_ttl: float
    max_age: float
    reuse_grace: float
    access_ttl: float = 600.0  # lifetime of the access tokens minted for a session


@dataclass(frozen=True)
class Issued:
    """A session together with its current refresh token."""

    session: SessionRecord
    refresh_token: str
    refresh_expires_at: float
    rotated: bool = True  # False: a grace-window replay answered with the current token


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None = None
    user_agent: str | None = None


class Sessions:
    def __init__(
        self,
        store: Store,
        sealer: Sealer,
        clock: Clock,
        policy: SessionPolicy,
        on_revoke: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._sealer = sealer
        self._clock = clock
        self.policy = policy
        self._on_revoke = on_revoke
        self._refusals = Once(REFUSAL_AUDIT_EVERY)

    def tokens_end_by(self, now: float | None = None) -> float:
        """The latest `exp` an access token of a session revoked `now` can carry."""
        return (self._clock.now() if now is None else now) + self.policy.access_ttl + MINT_MARGIN

    async def _revoked(self) -> None:
        if self._on_revoke is not None:
            await self._on_revoke()

    def refresh_expires_at(self, session: SessionRecord) -> float:
        """When the current refresh token stops working if unused: idle or absolute end."""
        return min(session.expires_at, session.last_used_at + self.policy.idle_ttl)

    def _issued(self, session: SessionRecord, token: str, rotated: bool = True) -> Issued:
        return Issued(session, token, self.refresh_expires_at(session), rotated)

    async def open(
        self,
        subject: str,
        role: str,
        client: ClientInfo,
        jkt: str | None = None,
        *,
        name: str | None = None,
    ) -> Issued:
        """Start a session after a successful login (bound to the DPoP key `jkt`, if given;
        `name` is the user's display name, minted into each access token)."""
        now = self._clock.now()
        session_id = secrets.token_hex(16)  # hex: never mistaken for a CLI option
        token = new_refresh_token()
        session = SessionRecord(
            id=session_id,
            subject=subject,
            role=role,
            generation=0,
            created_at=now,
            expires_at=now + self.policy.max_age,
            last_used_at=now,
            rotated_at=None,
            sealed_token=self._sealer.seal(token.encode(), seal_context(session_id, 0)),
            ip=client.ip,
            user_agent=client.user_agent,
            jkt=jkt,
            name=name,
        )
        audit = AuditEvent(
            now,
            "login",
            subject,
            session_id,
            client.ip,
            client.user_agent,
            detail=f"bound to DPoP key {jkt}" if jkt else None,
        )
        await self._store.create_session(session, token_hash(token), audit)
        return self._issued(session, token)

    async def refresh(
        self,
        token: object,
        client: ClientInfo,
        jkt: str | None = None,
        admit: Callable[[bool], Awaitable[None]] | None = None,
    ) -> Issued:
        """Rotate `token`; or replay the current token inside the grace window; or detect reuse.
        `jkt`: the key of the request's verified DPoP proof, if it had one. `admit(proven)`
        runs once the token's session is known, before anything else (the rate limit: an
        attempt without the bound key must not spend the key holder's allowance)."""
        if not well_formed(token):
            raise InvalidGrant("refresh token is malformed", reason="malformed")
        assert isinstance(token, str)
        presented = token_hash(token)
        for attempt in range(ROTATE_ATTEMPTS):
            found = await self._store.find_by_refresh_hash(presented)
            if found is None:
                raise InvalidGrant("refresh token is not recognised", reason="unknown")
            generation, session = found
            now = self._clock.now()
            proven = session.jkt is None or jkt == session.jkt
            if admit is not None and attempt == 0:
                await admit(proven)
            if not proven:
                await self.refuse_unproven(
                    session, f"refresh (generation {generation})", jkt, client
                )
            self._check_alive(session, now)
            if generation == session.generation:
                successor = new_refresh_token()
                sealed = self._sealer.seal(
                    successor.encode(), seal_context(session.id, generation + 1)
                )
                audit = AuditEvent(
                    now,
                    "refresh",
                    session.subject,
                    session.id,
                    client.ip,
                    client.user_agent,
                    detail=f"generation {generation + 1}",
                )
                if await self._store.rotate(
                    session.id, generation, token_hash(successor), sealed, now, audit
                ):
                    rotated = replace(
                        session,
                        generation=generation + 1,
                        last_used_at=now,
                        rotated_at=now,
                        sealed_token=sealed,
                    )
                    return self._issued(rotated, successor)
                continue  # another caller rotated first: read again, we are now in its grace
            if self._in_grace(generation, session, now):
                return self._issued(session, self._current_token(session), rotated=False)
            await self._store.revoke_session(
                session.id,
                now,
                "reuse",
                AuditEvent(
                    now,
                    "refresh_token_reuse",
                    session.subject,
                    session.id,
                    client.ip,
                    client.user_agent,
                    detail=(
                        f"generation {generation} presented; current is {session.generation},"
                        f" last used from {session.ip or '?'} ({(session.user_agent or '?')[:200]})"
                    ),
                ),
                not_after=self.tokens_end_by(now),
            )
            await self._revoked()
            log.warning("refresh token reuse: session %s revoked", session.id)
            raise RefreshTokenReused("refresh token was already used; the session is revoked")
        raise Unavailable(
            "too much contention on this session; retry", retry_after=1, kind="contention"
        )

    def _check_alive(self, session: SessionRecord, now: float) -> None:
        if session.revoked_at is not None:
            raise InvalidGrant("session has been revoked", reason="revoked")
        if now >= session.expires_at:
            raise InvalidGrant("session has reached its maximum lifetime", reason="expired")
        if now >= session.last_used_at + self.policy.idle_ttl:
            raise InvalidGrant("session has been idle too long", reason="idle")

    def _in_grace(self, generation: int, session: SessionRecord, now: float) -> bool:
        """The predecessor of the current token, within the grace window — or at any time for
        a bound session, whose key was proven already (a lost response, not a thief)."""
        return (
            generation == session.generation - 1
            and session.rotated_at is not None
            and (session.jkt is not None or now - session.rotated_at <= self.policy.reuse_grace)
        )

    async def refuse_unproven(
        self, session: SessionRecord, what: str, jkt: str | None, client: ClientInfo
    ) -> None:
        """A bound session's token without a proof by its key (for `what`: a refresh, a
        logout, a revocation): refused, with nothing changed but the audit trail (the address
        and agent of whoever holds the token). A thief can neither use nor end the session."""
        reason = "missing" if jkt is None else "wrong_key"
        detail = "no DPoP proof" if jkt is None else f"a DPoP proof by another key ({jkt})"
        now = self._clock.now()
        if self._refusals.first(f"{session.id} {client.ip} {reason} {what}", now):
            await self._store.add_audit(
                AuditEvent(
                    now,
                    "dpop_refused",
                    session.subject,
                    session.id,
                    client.ip,
                    client.user_agent,
                    detail=f"{what} with {detail}",
                )
            )
            log.warning("%s of DPoP-bound session %s refused: %s", what, session.id, detail)
        raise InvalidDPoPProof(
            "this session is bound to a DPoP key: a proof by that key is required",
            reason=reason,
        )

    def _current_token(self, session: SessionRecord) -> str:
        try:
            return self._sealer.open(
                session.sealed_token, seal_context(session.id, session.generation)
            ).decode()
        except SealError:
            # The secret changed under a live session: fail closed rather than fork the family.
            log.error("cannot open the sealed refresh token of session %s", session.id)
            raise InvalidGrant("refresh token is no longer valid", reason="unsealable") from None

    async def current(self, token: object) -> SessionRecord | None:
        """The live session whose *current* refresh token `token` is, else None. Changes
        nothing: this is for introspection, not for use (a rotated token, even one still in its
        grace window, is not current)."""
        if not well_formed(token):
            return None
        assert isinstance(token, str)
        found = await self._store.find_by_refresh_hash(token_hash(token))
        if found is None:
            return None
        generation, session = found
        if generation != session.generation:
            return None
        try:
            self._check_alive(session, self._clock.now())
        except InvalidGrant:
            return None
        return session

    async def logout(
        self, token: object, client: ClientInfo, jkt: str | None = None
    ) -> SessionRecord | None:
        """Revoke the session a refresh token belongs to (any generation). Idempotent. A
        bound session only with a proof by its key (`jkt`: the request's proven key)."""
        if not well_formed(token):
            return None
        assert isinstance(token, str)
        found = await self._store.find_by_refresh_hash(token_hash(token))
        if found is None:
            return None
        session = found[1]
        if session.jkt is not None and jkt != session.jkt and session.revoked_at is None:
            await self.refuse_unproven(session, "logout", jkt, client)
        await self.revoke(session.id, "logout", client, subject=session.subject)
        return session

    async def revoke(
        self, session_id: str, reason: str, client: ClientInfo, subject: str | None = None
    ) -> bool:
        """Revoke one session; with `subject`, only if it belongs to that subject."""
        session = await self._store.get_session(session_id)
        if session is None or (subject is not None and session.subject != subject):
            return False
        now = self._clock.now()
        audit = AuditEvent(now, reason, session.subject, session_id, client.ip, client.user_agent)
        await self._store.revoke_session(
            session_id, now, reason, audit, not_after=self.tokens_end_by(now)
        )
        await self._revoked()
        return True

    async def revoke_all(
        self, subject: str, reason: str, client: ClientInfo, *, keep: str | None = None
    ) -> int:
        """Revoke every live session of `subject`, except `keep` if given."""
        now = self._clock.now()
        kept = f"all but session {keep}" if keep else None
        audit = AuditEvent(now, reason, subject, None, client.ip, client.user_agent, kept)
        count = await self._store.revoke_subject_sessions(
            subject, now, reason, audit, not_after=self.tokens_end_by(now), keep=keep
        )
        await self._revoked()
        return count

    async def active(self, subject: str | None) -> list[SessionRecord]:
        """Sessions that can still refresh, newest first."""
        now = self._clock.now()
        sessions = await self._store.list_sessions(subject, now)
        return [s for s in sessions if now < s.last_used_at + self.policy.idle_ttl]

    async def is_active(self, session_id: str) -> bool:
        session = await self._store.get_session(session_id)
        if session is None:
            return False
        try:
            self._check_alive(session, self._clock.now())
        except InvalidGrant:
            return False
        return True
