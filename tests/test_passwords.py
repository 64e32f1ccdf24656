"""Password hashing runs off the event loop, at a lower scheduling priority than the loop."""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

import argon2
import pytest

from tessera.users.passwords import HASHING_NICENESS, PasswordHasher

pytestmark = pytest.mark.anyio


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
async def test_hashing_threads_yield_the_core_to_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    hashed_at: list[int] = []  # the niceness of each thread argon2 hashes in
    hash_password = argon2.PasswordHasher.hash

    def noting_hash(hasher: argon2.PasswordHasher, password: str | bytes, **kw: Any) -> str:
        hashed_at.append(niceness())
        return hash_password(hasher, password, **kw)

    hasher = PasswordHasher(time_cost=1, memory_kib=8, parallelism=1)
    monkeypatch.setattr(argon2.PasswordHasher, "hash", noting_hash)
    loop_nice = niceness()
    await hasher.hash_async("correct horse")
    assert hashed_at == [min(19, loop_nice + HASHING_NICENESS)]
    assert niceness() == loop_nice  # the loop's own thread is untouched


async def test_verify_checks_the_password_and_refuses_unknown_users() -> None:
    hasher = PasswordHasher(time_cost=1, memory_kib=8, parallelism=1)
    stored = await hasher.hash_async("correct horse")
    assert await hasher.verify(stored, "correct horse")
    assert not await hasher.verify(stored, "wrong")
    assert not await hasher.verify(None, "correct horse")  # the dummy hash: work, then False
