"""Per-process sliding-window counters in O(1) per hit, for when no shared store is configured
(or it is unreachable).

The same algorithm as `limits`' sliding-window counter (the previous fixed window's count,
weighted by how much of it still overlaps the sliding window, plus the current window's count),
but expiry is free: each limit keeps only two dictionaries, the current window's and the
previous window's, and drops older ones whole when the window advances. `limits`' own memory
store sweeps every key it holds on every hit, and with one key per refresh token that sweep
grew with traffic.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class SlidingWindow:
    """`limit` hits per `window` seconds per key."""

    limit: int
    window: float
    clock: Callable[[], float] = time.time
    _index: int = field(default=0, init=False)
    _current: dict[str, int] = field(default_factory=dict, init=False)
    _previous: dict[str, int] = field(default_factory=dict, init=False)

    def _advance(self, now: float) -> float:
        """Move to the window holding `now`; returns how far into it `now` is (0..1)."""
        index = math.floor(now / self.window)
        if index != self._index:
            self._previous = self._current if index == self._index + 1 else {}
            self._current = {}
            self._index = index
        return now / self.window - index

    def _weighted(self, key: str, elapsed: float) -> float:
        return self._previous.get(key, 0) * (1 - elapsed) + self._current.get(key, 0)

    def hit(self, key: str) -> bool:
        """Count one hit unless it would go over the limit; False means refused."""
        elapsed = self._advance(self.clock())
        if math.floor(self._weighted(key, elapsed)) + 1 > self.limit:
            return False
        self._current[key] = self._current.get(key, 0) + 1
        return True

    def test(self, key: str) -> bool:
        """Whether one more hit would be allowed (counts nothing)."""
        elapsed = self._advance(self.clock())
        return math.floor(self._weighted(key, elapsed)) + 1 <= self.limit

    def retry_after(self, key: str) -> float:
        """Seconds until `key` may hit again: when the previous window's weight has decayed
        enough, or, with the current window full, that much into the next one."""
        now = self.clock()
        elapsed = self._advance(now)
        previous, current = self._previous.get(key, 0), self._current.get(key, 0)
        if current < self.limit:
            # prev * (1 - e) + cur < limit  <=>  e > 1 - (limit - cur) / prev
            due = 1 - (self.limit - current) / previous if previous else 0.0
            return max(0.0, due - elapsed) * self.window
        return (1 - elapsed + max(0.0, 1 - self.limit / current)) * self.window

    def refund(self, key: str) -> None:
        """Take back one hit of `key` (the newest window's first, else the previous one's)."""
        self._advance(self.clock())
        for window in (self._current, self._previous):
            if window.get(key, 0) > 0:
                window[key] -= 1
                return

    def clear(self, key: str) -> None:
        self._current.pop(key, None)
        self._previous.pop(key, None)
