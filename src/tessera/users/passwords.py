"""argon2id password hashing, off the event loop, with equal work for unknown usernames."""

from __future__ import annotations

import secrets

import anyio.to_thread
from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MAX_PASSWORD_CHARS = 1024


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
        return await anyio.to_thread.run_sync(self._argon2.hash, password)

    def _verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._argon2.verify(stored or self._dummy_hash, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify(self, stored: str | None, password: str) -> bool:
        """True if `password` matches `stored`; with `stored=None`, the same work and False."""
        return await anyio.to_thread.run_sync(self._verify, stored, password)

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self._argon2.check_needs_rehash(stored)
        except InvalidHashError:
            return False
