"""A password login: limits and the bound on password checks, the check, audit, a session."""

from __future__ import annotations

from dataclasses import dataclass

from tessera.clock import Clock
from tessera.errors import InvalidCredentials, RateLimited, Unavailable
from tessera.limits import Busy, InFlight, RateLimits, client_key
from tessera.metrics import Metrics
from tessera.sessions import ClientInfo, Issued, Sessions
from tessera.store import AuditEvent, Store
from tessera.users import Authenticator, UserDirectory

SHED_RETRY_AFTER = 1  # seconds: a shed login may try again as soon as a check has finished


@dataclass(frozen=True)
class Login:
    """Check a username and password and open a session."""

    authenticator: Authenticator
    users: UserDirectory
    sessions: Sessions
    limits: RateLimits
    password_checks: InFlight
    store: Store
    metrics: Metrics
    clock: Clock

    async def __call__(
        self, username: str, password: str, client: ClientInfo, jkt: str | None = None
    ) -> Issued:
        """The new session (bound to the DPoP key `jkt` when the request proved one);
        `InvalidCredentials`, `RateLimited`, or `Unavailable` when too many password checks
        are already in progress.

        The attempt takes a place among the password checks in progress (a few per address,
        a few per CPU overall; none left: refused at once, never queued) and is counted
        against the rate limits before the password is looked at, so neither a burst from one
        address nor one from many can buy more password checks than the limits allow."""
        ip = client_key(client.ip)  # an IPv6 host by its /64: it may own all of it
        try:
            self.password_checks.acquire(ip)
        except Busy as busy:
            self.metrics.logins.labels("shed").inc()
            if busy.per_key:
                raise RateLimited(SHED_RETRY_AFTER) from None
            raise Unavailable("too many logins in progress", SHED_RETRY_AFTER) from None
        try:
            try:
                attempt = await self.limits.login_attempt(username, ip)
            except RateLimited:
                self.metrics.logins.labels("limited").inc()
                raise
            principal = await self.authenticator.authenticate(username, password)
        finally:
            self.password_checks.release(ip)
        if principal is None:
            await self._failed(username, client)
            raise InvalidCredentials("username or password is wrong")
        await self.limits.login_succeeded(attempt)
        issued = await self.sessions.open(
            principal.subject, principal.role, client, jkt, name=principal.name
        )
        self.metrics.logins.labels("ok").inc()
        return issued

    async def _failed(self, username: str, client: ClientInfo) -> None:
        # Known and unknown usernames alike: one lookup and one write on both paths. The
        # attempted name itself is not kept (people type passwords into that field).
        known = await self.users.get(username)
        await self.store.add_audit(
            AuditEvent(
                self.clock.now(),
                "login_failed",
                known.id if known else None,
                None,
                client.ip,
                client.user_agent,
                detail=None if known else "unknown username",
            )
        )
        self.metrics.logins.labels("failed").inc()
