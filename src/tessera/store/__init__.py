"""Persistence: one interface (`Store`), one SQL implementation, Alembic migrations.

An outage raises `DatabaseUnavailable` (a 503 `Unavailable`; see `faults`), whatever the engine.
"""

from tessera.store.base import KeyConflict, Store, UserExists
from tessera.store.faults import DatabaseUnavailable
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
    "DatabaseUnavailable",
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
