"""Records to rows and back. A table's columns are named as its record's fields (the schema
test holds them to it), so one rule maps every record, both ways."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypeVar

from tessera.store.records import AuditEvent, KeyRecord, SessionRecord, UserRecord

Record = TypeVar("Record", AuditEvent, KeyRecord, SessionRecord, UserRecord)


_NAMES: dict[type[Any], tuple[str, ...]] = {
    kind: tuple(field.name for field in fields(kind))
    for kind in (AuditEvent, KeyRecord, SessionRecord, UserRecord)
}


def columns(kind: type[Record]) -> tuple[str, ...]:
    """The columns that hold a `kind`, in the order of its fields (select them so, and a row
    becomes a record by position: `kind(*row)`, the cheapest way)."""
    return _NAMES[kind]


def record(kind: type[Record], row: Mapping[Any, Any]) -> Record:
    """A `kind` from a row's mapping: SQLAlchemy's `row._mapping`, a dict or an asyncpg
    record (extra columns, such as an audit event's id, are left out)."""
    return kind(*[row[name] for name in _NAMES[kind]])


def values(item: AuditEvent | KeyRecord | SessionRecord | UserRecord) -> dict[str, Any]:
    """`item`'s row: column name to value (the database fills in the rest, such as ids)."""
    return {name: getattr(item, name) for name in _NAMES[type(item)]}


def token_row(token_hash: bytes, session_id: str, generation: int, at: float) -> dict[str, Any]:
    """A refresh token's row: its hash, never the token."""
    return {
        "token_hash": token_hash,
        "session_id": session_id,
        "generation": generation,
        "issued_at": at,
    }
