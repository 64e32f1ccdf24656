"""Revoking sessions on someone's word: a user's own other sessions, all of them, or an
operator's decision; each counted in the metrics by its reason."""

from __future__ import annotations

from dataclasses import dataclass

from tessera.metrics import Metrics
from tessera.sessions import ClientInfo, Sessions


@dataclass(frozen=True)
class Revoke:
    """End sessions by id or by subject."""

    sessions: Sessions
    metrics: Metrics

    async def session(
        self, session_id: str, reason: str, client: ClientInfo, *, subject: str | None = None
    ) -> bool:
        """True when the session was live (and, with `subject`, belongs to it) and is ended."""
        ended = await self.sessions.revoke(session_id, reason, client, subject=subject)
        if ended:
            self.metrics.revocations.labels(reason).inc()
        return ended

    async def all_of(
        self, subject: str, reason: str, client: ClientInfo, *, keep: str | None = None
    ) -> int:
        """End every live session of `subject` (but `keep`); how many there were."""
        count = await self.sessions.revoke_all(subject, reason, client, keep=keep)
        self.metrics.revocations.labels(reason).inc(count)
        return count
