"""argon2id password hashing, off the event loop, with equal work for unknown usernames.

Hashes run in a small pool of their own, at most one per CPU this process may use, at a lower
scheduling priority: a burst of logins then queues for the password work instead of taking
every core (and 64 MiB each) from the event loop, so refreshes and API calls keep their
latency while logins wait their turn."""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import TypeVar

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MAX_PASSWORD_CHARS = 1024
# Added to the process's nice value, for the hashing threads only. argon2 runs its lanes
# (parallelism 4) as threads that inherit it, so four compete with the event loop: at +16 their
# scheduler weight together is about one +10 thread's (a tenth of the loop's), and a login storm
# on a busy server takes a tenth of the core rather than a third.
HASHING_NICENESS = 16
T = TypeVar("T")
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _lower_priority() -> None:
    """Runs in each new hashing thread (Linux: the nice value is per thread; argon2's own lane
    threads inherit it)."""
    with suppress(AttributeError, OSError):
        tid = threading.get_native_id()
        os.setpriority(
            os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + HASHING_NICENESS
        )


def hashing_threads() -> int:
    """How many hashes run at once: one per CPU this process may use."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, cpus)


def _hashing_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                hashing_threads(), thread_name_prefix="tessera-argon2", initializer=_lower_priority
            )
        return _pool


async def _off_loop(work: Callable[..., T], *args: object) -> T:
    return await asyncio.get_running_loop().run_in_executor(_hashing_pool(), work, *args)


class PasswordHasher:
    """Hashes and checks passwords. `verify` always spends one full argon2 computation."""

    def __init__(self, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 4) -> None:
        self._argon2 = Argon2Hasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        # Checked against when the username is unknown, so that path costs the same.
        self._dummy_hash = self._argon2.hash(secrets.token_urlsafe(24))

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    async def hash_async(self, password: str) -> str:
        return await _off_loop(self._argon2.hash, password)

    def _verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._argon2.verify(stored or self._dummy_hash, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify(self, stored: str | None, password: str) -> bool:
        """True if `password` matches `stored`; with `stored=None`, the same work and False."""
        return await _off_loop(self._verify, stored, password)

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self._argon2.check_needs_rehash(stored)
        except InvalidHashError:
            return False
