"""Users: argon2id passwords, the built-in directory, the pluggable authenticator."""

from tessera.users.directory import (
    DEFAULT_ROLE,
    Authenticator,
    InvalidUser,
    Principal,
    UserDirectory,
)
from tessera.users.passwords import PasswordHasher, hashing_threads

__all__ = [
    "DEFAULT_ROLE",
    "Authenticator",
    "InvalidUser",
    "PasswordHasher",
    "Principal",
    "UserDirectory",
    "hashing_threads",
]
