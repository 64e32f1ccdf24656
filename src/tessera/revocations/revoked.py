"""`RevokedSessions`: the in-memory set of revoked session ids every verifier checks.

Checked on every verification, cache hits included, so it is a plain dictionary lookup. Each
entry is kept until the last access token of its session has expired (plus the largest
leeway any verifier allows); after that the token's own `exp` refuses it, so memory is
bounded by the revocations of one access-token lifetime.
"""

from __future__ import annotations

from collections.abc import Iterable

from tessera.clock import Clock

# The most clock skew any verifier may allow (RFC 8725 asks for a small one): a revoked
# session is remembered this long past its tokens' `exp`.
MAX_LEEWAY = 30.0
MAX_REVOCATION_WAIT = 30.0  # longest a revocation-feed long-poll may ask to be held

PRUNE_EVERY = 60.0  # seconds between sweeps for entries nobody needs any more


class RevokedSessions:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        # sid -> latest exp of its tokens. Read from any thread, written by the follower's
        # thread or loop; a lookup never sees a half-made change (one dict operation).
        self.entries: dict[str, float] = {}
        self._pruned_at = clock.now()

    def __contains__(self, sid: object) -> bool:
        return sid in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, revoked: Iterable[tuple[str, float]]) -> int:
        """Record `(sid, not_after)` pairs; returns how many were new."""
        now = self._clock.now()
        added = 0
        for sid, not_after in revoked:
            if now > not_after + MAX_LEEWAY:
                continue  # every token of that session has expired already
            if sid not in self.entries:
                added += 1
            self.entries[sid] = max(not_after, self.entries.get(sid, not_after))
        if now - self._pruned_at >= PRUNE_EVERY:
            self.prune(now)
        return added

    def prune(self, now: float | None = None) -> int:
        """Forget sessions whose tokens have all expired."""
        now = self._clock.now() if now is None else now
        self._pruned_at = now
        gone = [sid for sid, until in list(self.entries.items()) if now > until + MAX_LEEWAY]
        for sid in gone:
            self.entries.pop(sid, None)
        return len(gone)
