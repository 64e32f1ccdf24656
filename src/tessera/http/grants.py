"""The two ways a client gets tokens — a password login and a refresh-token rotation — with
their rate limits, audit and metrics. `/auth/login` and `/auth/refresh` call these, and so does
the OAuth token endpoint, so the rules cannot drift apart between the two front doors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tessera.errors import (
    InvalidCredentials,
    InvalidGrant,
    RateLimited,
    RefreshTokenReused,
    Unavailable,
)
from tessera.http.in_flight import Busy
from tessera.sessions import ClientInfo, Issued
from tessera.store import AuditEvent

if TYPE_CHECKING:
    from tessera.service import Tessera

SHED_RETRY_AFTER = 1  # seconds: a shed login may try again as soon as a check has finished


async def password_login(auth: Tessera, username: str, password: str, client: ClientInfo) -> Issued:
    """Check the credentials and open a session; `InvalidCredentials`, `RateLimited`, or
    `Unavailable` when too many password checks are already in progress.

    The attempt takes a place among the password checks in progress (a few per address, a
    few per CPU overall; none left: refused at once, never queued) and is counted against the
    rate limits before the password is looked at, so neither a burst from one address nor
    one from many can buy more password checks than the limits allow."""
    ip = client.ip or "unknown"
    try:
        auth.password_checks.acquire(ip)
    except Busy as busy:
        auth.metrics.logins.labels("shed").inc()
        if busy.per_key:
            raise RateLimited(SHED_RETRY_AFTER) from None
        raise Unavailable("too many logins in progress", SHED_RETRY_AFTER) from None
    try:
        try:
            attempt = await auth.limits.login_attempt(username, ip)
        except RateLimited:
            auth.metrics.logins.labels("limited").inc()
            raise
        principal = await auth.authenticator.authenticate(username, password)
    finally:
        auth.password_checks.release(ip)
    if principal is None:
        # Known and unknown usernames alike: one lookup and one write on both paths. The
        # attempted name itself is not kept (people type passwords into that field).
        known = await auth.users.get(username)
        await auth.store.add_audit(
            AuditEvent(
                auth.clock.now(),
                "login_failed",
                known.id if known else None,
                None,
                client.ip,
                client.user_agent,
                detail=None if known else "unknown username",
            )
        )
        auth.metrics.logins.labels("failed").inc()
        raise InvalidCredentials("username or password is wrong")
    await auth.limits.login_succeeded(attempt)
    issued = await auth.sessions.open(principal.subject, principal.role, client)
    auth.metrics.logins.labels("ok").inc()
    return issued


async def rotate_refresh_token(auth: Tessera, token: str, client: ClientInfo) -> Issued:
    """Rotate (or replay within the grace window) a refresh token; `InvalidGrant` (of which
    `RefreshTokenReused` revoked the session) or `RateLimited`."""
    await auth.limits.refresh_attempt(token)
    try:
        issued = await auth.sessions.refresh(token, client)
    except InvalidGrant as exc:
        reused = isinstance(exc, RefreshTokenReused)
        auth.metrics.refreshes.labels("reuse" if reused else "invalid").inc()
        auth.metrics.refresh_failures.labels(exc.reason).inc()
        if reused:
            auth.metrics.revocations.labels("reuse").inc()
        raise
    auth.metrics.refreshes.labels("rotated" if issued.rotated else "grace").inc()
    return issued
