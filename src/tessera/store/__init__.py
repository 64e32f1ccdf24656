"""Persistence: one interface (`Store`), one SQL implementation, Alembic migrations."""

from tessera.store.base import KeyConflict, Store, UserExists
from tessera.store.records import (
    AuditEvent,
    KeyRecord,
    Purged,
    Revocation,
    SessionRecord,
    UserRecord,
)
from tessera.store.sql import SQLStore

__all__ = [
    "AuditEvent",
    "KeyConflict",
    "KeyRecord",
    "Purged",
    "Revocation",
    "SQLStore",
    "SessionRecord",
    "Store",
    "UserExists",
    "UserRecord",
]
