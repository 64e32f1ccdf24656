"""A logout: the caller's own session ends, found by its refresh token or its access token."""

from __future__ import annotations

from dataclasses import dataclass

from tessera.metrics import Metrics
from tessera.sessions import ClientInfo, Sessions
from tessera.tokens import AccessClaims


@dataclass(frozen=True)
class Logout:
    """End the caller's session. Idempotent: an unknown or dead session is no error."""

    sessions: Sessions
    metrics: Metrics

    async def with_refresh_token(
        self, token: str, client: ClientInfo, jkt: str | None = None
    ) -> bool:
        """True when a live session was ended (any generation of its refresh token will do;
        for a DPoP-bound session, only with `jkt`, the request's proven key, being its key:
        else `InvalidDPoPProof`, and nothing ends)."""
        ended = await self.sessions.logout(token, client, jkt) is not None
        return self._counted(ended)

    async def with_access_token(self, claims: AccessClaims, client: ClientInfo) -> bool:
        """True when the session of these (verified) claims was live and is now ended."""
        ended = await self.sessions.revoke(claims.sid, "logout", client, subject=claims.sub)
        return self._counted(ended)

    def _counted(self, ended: bool) -> bool:
        if ended:
            self.metrics.revocations.labels("logout").inc()
        return ended
