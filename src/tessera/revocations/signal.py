"""`Signal`: wake every waiter at once, from any thread or event loop.

Long-polls of the revocation feed wait on it; the follower fires it when new revocations
arrive (and once more on shutdown, so no request outlives the server).
"""

from __future__ import annotations

import asyncio
import threading


class Signal:
    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()
        self._lock = threading.Lock()

    @property
    def waiting(self) -> int:
        """How many are waiting now (for health, and for tests to know a long-poll is held)."""
        return len(self._waiters)

    def fire(self) -> None:
        with self._lock:
            waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            loop = waiter.get_loop()
            if not loop.is_closed():
                loop.call_soon_threadsafe(_resolve, waiter)

    async def wait(self, seconds: float) -> bool:
        """True when fired within `seconds`. The waiter is registered before this first
        yields, so a condition checked just before (on the same loop) cannot be missed."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._waiters.add(waiter)
        try:
            await asyncio.wait_for(waiter, seconds)
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(waiter)
        return True


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
