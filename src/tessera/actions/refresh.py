"""A refresh: the per-token limit, then rotation (or a grace replay), counted in the metrics."""

from __future__ import annotations

from dataclasses import dataclass

from tessera.errors import InvalidGrant, RefreshTokenReused
from tessera.limits import RateLimits
from tessera.metrics import Metrics
from tessera.sessions import ClientInfo, Issued, Sessions


@dataclass(frozen=True)
class Refresh:
    """Rotate a refresh token."""

    sessions: Sessions
    limits: RateLimits
    metrics: Metrics

    async def __call__(self, token: str, client: ClientInfo) -> Issued:
        """The session's next tokens (or, within the grace window, its current ones);
        `InvalidGrant` (of which `RefreshTokenReused` revoked the session) or `RateLimited`."""
        await self.limits.refresh_attempt(token)
        try:
            issued = await self.sessions.refresh(token, client)
        except InvalidGrant as exc:
            reused = isinstance(exc, RefreshTokenReused)
            self.metrics.refreshes.labels("reuse" if reused else "invalid").inc()
            self.metrics.refresh_failures.labels(exc.reason).inc()
            if reused:
                self.metrics.revocations.labels("reuse").inc()
            raise
        self.metrics.refreshes.labels("rotated" if issued.rotated else "grace").inc()
        return issued
