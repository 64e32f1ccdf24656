"""`WaiterLimit`: how many revocation-feed long-polls are held at once, overall and per client.

The feed is unauthenticated and each held long-poll keeps a connection, a file descriptor, for
up to `revocation_max_wait`: without a cap, 1100 of them exhausted a server's descriptors and
it stopped accepting logins. Past either cap a long-poll is answered at once with the page as
of now, as if it had asked not to wait, so the feed keeps working, only without the push. The
overall cap also stays within a quarter of the process's open-file limit, which leaves the
rest for everything else (connections, the database, logs).
"""

from __future__ import annotations

import logging
import resource
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from tessera.limits.clients import client_key

log = logging.getLogger("tessera.revocations")

FD_SHARE = 4  # long-polls may hold at most 1/FD_SHARE of the open-file limit


def fd_budget() -> int | None:
    """The descriptors long-polls may hold under this process's soft limit (None: no limit)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else max(1, soft // FD_SHARE)


class WaiterLimit:
    def __init__(self, overall: int, per_client: int) -> None:
        budget = fd_budget()
        self.overall = overall if budget is None else min(overall, budget)
        if self.overall < overall:
            log.warning(
                "revocation long-polls held at once: %d, not %d (a quarter of the open-file "
                "limit; raise it with ulimit -n)",
                self.overall,
                overall,
            )
        self.per_client = per_client
        self._held: Counter[str] = Counter()
        self._total = 0

    @property
    def held(self) -> int:
        return self._total

    @contextmanager
    def hold(self, ip: str | None, wait: float) -> Iterator[float]:
        """How long this long-poll may wait: `wait`, or 0 past a cap (or when it asks for 0)."""
        held = wait > 0 and self.take(ip)
        try:
            yield wait if held else 0.0
        finally:
            if held:
                self.give_back(ip)

    def take(self, ip: str | None) -> bool:
        """A place to wait for this client, or False when it or everyone has no more."""
        key = client_key(ip)
        if self._total >= self.overall or self._held[key] >= self.per_client:
            return False
        self._held[key] += 1
        self._total += 1
        return True

    def give_back(self, ip: str | None) -> None:
        key = client_key(ip)
        self._held[key] -= 1
        if self._held[key] <= 0:
            del self._held[key]
        self._total -= 1
