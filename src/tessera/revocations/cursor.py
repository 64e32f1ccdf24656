"""How far a follower of the revocation feed may move its cursor.

Ids come from a sequence, and on PostgreSQL transactions commit in any order: id 7 may be
visible before id 6 is. A follower that jumped to 7 would never see 6. So the cursor stops
before the first gap — unless the row after the gap is older than `SETTLE`, by which time the
gap's transaction has either committed (and is in this read) or will never commit (a rollback
burns its id). Rows past the cursor may be delivered twice; applying one is idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence

from tessera.store import Revocation

SETTLE = 15.0  # seconds: well past the statement timeout of any revoking transaction


def safe_cursor(cursor: int, rows: Sequence[Revocation], now: float) -> int:
    """The highest id such that every revocation at or below it is in `rows` or already
    behind `cursor`. `rows` are the ones above `cursor`, in id order."""
    expected = cursor + 1
    for row in rows:
        if row.id != expected and row.at > now - SETTLE:
            break  # an id below row.id may still commit
        cursor, expected = row.id, row.id + 1
    return cursor
