"""The two ways a client gets tokens — a password login and a refresh-token rotation — with
their rate limits, audit and metrics. `/auth/login` and `/auth/refresh` call these, and so does
the OAuth token endpoint, so the rules cannot drift apart between the two front doors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tessera.errors import InvalidCredentials, InvalidGrant, RefreshTokenReused
from tessera.sessions import ClientInfo, Issued
from tessera.store import AuditEvent

if TYPE_CHECKING:
    from tessera.service import Tessera


async def password_login(auth: Tessera, username: str, password: str, client: ClientInfo) -> Issued:
    """Check the credentials and open a session; `InvalidCredentials` or `RateLimited`."""
    ip = client.ip or "unknown"
    await auth.limits.login_attempt(username, ip)
    principal = await auth.authenticator.authenticate(username, password)
    if principal is None:
        await auth.limits.login_failed(ip)
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
    await auth.limits.login_succeeded(username)
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
