"""A bound on work in progress, overall and per key, that refuses at once instead of queueing.

Password checks are the expensive part of a login (argon2id: tens of milliseconds of CPU and
64 MiB each). Queued without a bound, a burst from one address delays every other user's login
by the whole burst; bounded per address and overall, the excess is shed in microseconds and a
login from elsewhere waits for at most a few checks. Per process: it protects this process's
cores, whatever the replicas share.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


class Busy(Exception):
    """No room: `per_key` says whether the key's own bound (rather than the overall one) is
    what is full."""

    def __init__(self, per_key: bool) -> None:
        super().__init__("per key" if per_key else "overall")
        self.per_key = per_key


@dataclass
class InFlight:
    """At most `total` holders at once, and at most `per_key` of them for any one key."""

    total: int
    per_key: int
    _held: dict[str, int] = field(default_factory=dict, init=False)
    _count: int = field(default=0, init=False)

    @property
    def count(self) -> int:
        return self._count

    def held(self, key: str) -> int:
        return self._held.get(key, 0)

    def acquire(self, key: str) -> None:
        """Take a place for `key`, or raise `Busy` (taking nothing)."""
        held = self._held.get(key, 0)
        if held >= self.per_key:
            raise Busy(per_key=True)
        if self._count >= self.total:
            raise Busy(per_key=False)
        self._held[key] = held + 1
        self._count += 1

    def release(self, key: str) -> None:
        held = self._held.get(key, 0)
        if held <= 1:
            self._held.pop(key, None)
        else:
            self._held[key] = held - 1
        self._count = max(0, self._count - 1)

    @contextmanager
    def place(self, key: str) -> Iterator[None]:
        """Hold a place for the duration of a `with` block; `Busy` when there is none."""
        self.acquire(key)
        try:
            yield
        finally:
            self.release(key)
