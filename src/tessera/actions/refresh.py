"""A refresh: the per-token limit, then rotation (or a grace replay), counted in the metrics."""

from __future__ import annotations

from dataclasses import dataclass

from tessera.errors import InvalidDPoPProof, InvalidGrant, RefreshTokenReused
from tessera.limits import RateLimits
from tessera.metrics import Metrics
from tessera.sessions import ClientInfo, Issued, Sessions

UNPROVEN = "unproven:"  # the rate-limit bucket of attempts without the bound key


@dataclass(frozen=True)
class Refresh:
    """Rotate a refresh token."""

    sessions: Sessions
    limits: RateLimits
    metrics: Metrics

    async def __call__(self, token: str, client: ClientInfo, jkt: str | None = None) -> Issued:
        """The session's next tokens (or, within the grace window, its current ones);
        `InvalidGrant` (of which `RefreshTokenReused` revoked the session), `InvalidDPoPProof`
        (a bound session without a proof by its key: nothing changed) or `RateLimited`.
        `jkt`: the key of the request's verified DPoP proof, if any."""

        async def admit(proven: bool) -> None:
            # Attempts without a DPoP-bound session's key count apart: a thief holding the
            # token must not spend (and so lock) the key holder's allowance.
            await self.limits.refresh_attempt(token if proven else UNPROVEN + token)

        try:
            issued = await self.sessions.refresh(token, client, jkt, admit)
        except InvalidDPoPProof as exc:
            self.metrics.refreshes.labels("invalid").inc()
            self.metrics.refresh_failures.labels(f"dpop_{exc.reason}").inc()
            raise
        except InvalidGrant as exc:
            reused = isinstance(exc, RefreshTokenReused)
            self.metrics.refreshes.labels("reuse" if reused else "invalid").inc()
            self.metrics.refresh_failures.labels(exc.reason).inc()
            if reused:
                self.metrics.revocations.labels("reuse").inc()
            raise
        self.metrics.refreshes.labels("rotated" if issued.rotated else "grace").inc()
        return issued
