"""Who may log in: the built-in user table, or an application's own `Authenticator`."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Protocol

from tessera.clock import Clock
from tessera.store import Store, UserRecord
from tessera.users.passwords import MAX_PASSWORD_CHARS, PasswordHasher

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,149}")
ROLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
DEFAULT_ROLE = "user"
MAX_SUBJECT = 255  # the sessions table's subject column
MAX_ROLE = 100
MAX_NAME = 255  # the sessions table's name column


@dataclass(frozen=True)
class Principal:
    """Who logged in: `subject` becomes the token's `sub`, `role` its `role`, and `name` (the
    name people know the user by, such as the username they sign in with) its OpenID Connect
    `preferred_username` — for showing, never for deciding: the subject is the identity.
    All are bounded as the session table stores them, so that every token minted for them is
    one the server's own policy accepts (no claim over 256 characters)."""

    subject: str
    role: str
    name: str | None = None

    def __post_init__(self) -> None:
        if not 0 < len(self.subject) <= MAX_SUBJECT or not 0 < len(self.role) <= MAX_ROLE:
            raise ValueError(
                f"a Principal's subject is 1-{MAX_SUBJECT} characters, its role 1-{MAX_ROLE}"
            )
        if self.name is not None and (
            not 0 < len(self.name) <= MAX_NAME or not self.name.isprintable()
        ):
            raise ValueError(f"a Principal's name is 1-{MAX_NAME} printable characters")


class Authenticator(Protocol):
    """Plug in an application's own users: return a `Principal`, or `None` to refuse."""

    async def authenticate(self, username: str, password: str) -> Principal | None: ...


class InvalidUser(ValueError):
    """A username, role or password that cannot be stored."""


def check_username(username: str) -> str:
    if not USERNAME.fullmatch(username):
        raise InvalidUser("usernames are 1-150 of letters, digits and . _ @ + - (starting alnum)")
    return username


def check_role(role: str) -> str:
    if not ROLE.fullmatch(role):
        raise InvalidUser("roles are 1-100 of letters, digits and . _ : - (starting alnum)")
    return role


def check_password(password: str) -> str:
    if not password:
        raise InvalidUser("the password cannot be empty")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidUser(f"passwords are at most {MAX_PASSWORD_CHARS} characters")
    return password


class UserDirectory:
    """The built-in users, stored with argon2id hashes. Also the default `Authenticator`."""

    def __init__(self, store: Store, hasher: PasswordHasher, clock: Clock) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock

    async def add(self, username: str, password: str, role: str = DEFAULT_ROLE) -> UserRecord:
        user = UserRecord(
            id=uuid.uuid4().hex,
            username=check_username(username),
            password_hash=await self._hasher.hash_async(check_password(password)),
            role=check_role(role),
            created_at=self._clock.now(),
        )
        await self._store.add_user(user)
        return user

    async def set_password(self, username: str, password: str) -> UserRecord | None:
        user = await self._store.get_user_by_name(username)
        if user is None:
            return None
        await self._store.set_password_hash(
            user.id, await self._hasher.hash_async(check_password(password))
        )
        return user

    async def remove(self, username: str, *, tokens_end_by: float) -> bool:
        """Delete the user; their sessions are revoked, their tokens published as dead until
        `tokens_end_by` (see `Sessions.tokens_end_by`)."""
        return await self._store.remove_user(username, self._clock.now(), tokens_end_by)

    async def list(self) -> list[UserRecord]:
        return await self._store.list_users()

    async def get(self, username: str) -> UserRecord | None:
        if not USERNAME.fullmatch(username):
            return None  # not a username: never sent to the database (it may be a password)
        return await self._store.get_user_by_name(username)

    async def authenticate(self, username: str, password: str) -> Principal | None:
        user = (
            await self._store.get_user_by_name(username) if USERNAME.fullmatch(username) else None
        )
        if not await self._hasher.verify(user.password_hash if user else None, password):
            return None
        assert user is not None
        if self._hasher.needs_rehash(user.password_hash):
            await self._store.set_password_hash(user.id, await self._hasher.hash_async(password))
        return Principal(subject=user.id, role=user.role, name=user.username)
