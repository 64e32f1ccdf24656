"""Password hashing runs off the event loop, at a lower scheduling priority than the loop."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from tessera.users.passwords import HASHING_NICENESS, PasswordHasher, _off_loop

pytestmark = pytest.mark.anyio


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
async def test_hashing_threads_yield_the_core_to_the_event_loop() -> None:
    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    loop_nice = niceness()
    assert await _off_loop(niceness) == min(19, loop_nice + HASHING_NICENESS)
    assert niceness() == loop_nice  # the loop's own thread is untouched


async def test_verify_checks_the_password_and_refuses_unknown_users() -> None:
    hasher = PasswordHasher(time_cost=1, memory_kib=8, parallelism=1)
    stored = await hasher.hash_async("correct horse")
    assert await hasher.verify(stored, "correct horse")
    assert not await hasher.verify(stored, "wrong")
    assert not await hasher.verify(None, "correct horse")  # the dummy hash: work, then False
