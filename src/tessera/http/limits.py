"""Login rate limits: failed attempts per username and per client IP, in a sliding window.

Counting is the `limits` library's job; storage is in memory for one process (the scale-out
work swaps in Redis). Only failures count, and a limited caller is refused before any password
work is spent. The sliding-window *counter* strategy is used rather than the moving window:
it is O(1) per key, and clearing a key cannot race the in-memory store's expiry sweep.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from tessera.errors import RateLimited


class LoginLimiter:
    def __init__(
        self, per_user: int, per_ip: int, window: float, storage: Storage | None = None
    ) -> None:
        seconds = max(1, math.ceil(window))
        self._per_user = RateLimitItemPerSecond(per_user, seconds)
        self._per_ip = RateLimitItemPerSecond(per_ip, seconds)
        self._storage = storage
        self._strategy: SlidingWindowCounterRateLimiter | None = None

    @property
    def _limiter(self) -> SlidingWindowCounterRateLimiter:
        # Built on first use: the in-memory store starts a task on the running event loop.
        if self._strategy is None:
            self._strategy = SlidingWindowCounterRateLimiter(self._storage or MemoryStorage())
        return self._strategy

    @staticmethod
    def _user_key(username: str) -> str:
        return username.strip().casefold()[:200]

    async def check(self, username: str, ip: str) -> None:
        """Raise `RateLimited` if either limit is used up."""
        for item, key in ((self._per_user, self._user_key(username)), (self._per_ip, ip)):
            if not await self._limiter.test(item, "login", key):
                stats = await self._limiter.get_window_stats(item, "login", key)
                raise RateLimited(max(1, math.ceil(stats.reset_time - time.time())))

    async def failed(self, username: str, ip: str) -> None:
        await self._limiter.hit(self._per_user, "login", self._user_key(username))
        await self._limiter.hit(self._per_ip, "login", ip)

    async def succeeded(self, username: str) -> None:
        """A correct password clears that username's failures (the IP's count stays)."""
        await self._limiter.clear(self._per_user, "login", self._user_key(username))
