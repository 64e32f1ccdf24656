"""Proof ids already seen (RFC 9449 §11.1): a proof is accepted once within the window its
`iat` allows. Kept per process and bounded: the window limits what there is to remember, and
the bound caps memory when a flood outpaces it (the oldest ids go first — a proof that old is
outside its window by then at any sane rate)."""

from __future__ import annotations

import hashlib
import heapq

MAX_ENTRIES = 200_000


class SeenProofs:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._until: dict[bytes, float] = {}
        self._expiries: list[tuple[float, bytes]] = []

    def __len__(self) -> int:
        return len(self._until)

    def first_use(self, key: str, until: float, now: float) -> bool:
        """Record `key` (a proof's jti, with its key's thumbprint) as used until `until`;
        False if it was already used and is still remembered. Only a 16-byte digest of it is
        kept, whatever the jti's length."""
        self._forget_before(now)
        digest = hashlib.sha256(key.encode()).digest()[:16]
        if digest in self._until:
            return False
        self._until[digest] = until
        heapq.heappush(self._expiries, (until, digest))
        while len(self._until) > self.max_entries:
            _, oldest = heapq.heappop(self._expiries)
            self._until.pop(oldest, None)
        return True

    def _forget_before(self, now: float) -> None:
        expiries = self._expiries
        while expiries and expiries[0][0] < now:
            _, key = heapq.heappop(expiries)
            self._until.pop(key, None)
