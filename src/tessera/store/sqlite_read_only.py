"""SQLite connections opened while their database could not be written are never kept.

SQLite maps a WAL database's `-shm` once per process, and every connection of the process to
that file shares the mapping; it is mapped read-only if the `-shm` could not be written when the
first of them opened. While any connection holds it, every connection opened later shares it
and cannot write either — even once the files are writable again. So a server started on a
read-only database (or whose pools opened connections while it was) kept answering 503
`read_only` after the files were fixed, until restarted: its pooled connections, opened during
the fault and used only to read, never failed, and so were never replaced.

Hence: a connection opened while the database cannot be written — or while such a connection is
still open, or has only just closed (its mapping may outlive it by a moment: aiosqlite closes in
its own thread) — is *suspect*, and is closed after each use instead of being kept. Once the last
suspect has closed, connections opened later map the `-shm` afresh, writable. A suspect that is
never counted closed (a connection lost to the garbage collector) only keeps new connections
suspect: each is then used once, which is slower, never wrong.
"""

from __future__ import annotations

import math
import os
import threading
import time
from typing import Any

from sqlalchemy import Engine, event

SETTLE = 0.1  # seconds after the last suspect closed before a new connection is trusted
SUSPECT = "tessera_suspect"  # the mark in a pooled connection's `info`


def writable(database: str) -> bool:
    """The kernel lets this process write `database`, its directory (where SQLite makes its
    `-wal` and `-shm`), and those two where they exist. Asked of the kernel, which also answers
    for root (an immutable file, a read-only mount)."""
    path = os.path.abspath(database)
    files = [path, os.path.dirname(path)]
    files += [f"{path}-{suffix}" for suffix in ("wal", "shm") if os.path.exists(f"{path}-{suffix}")]
    return all(os.access(f, os.W_OK) for f in files)


class Suspects:
    """The count of suspect connections open to one database file, across this process."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.open = 0
        self._last_closed = -math.inf
        self._lock = threading.Lock()  # worker threads open and close connections too

    def opened(self) -> bool:
        """Called once a connection is open: True if it is suspect (counted until `closed`)."""
        with self._lock:
            suspect = (
                self.open > 0
                or time.monotonic() - self._last_closed < SETTLE
                or not writable(self.database)
            )
            if suspect:
                self.open += 1
            return suspect

    def closed(self) -> None:
        """A suspect connection is closed."""
        with self._lock:
            self.open -= 1
            self._last_closed = time.monotonic()


_SUSPECTS: dict[str, Suspects] = {}
_REGISTRY_LOCK = threading.Lock()


def suspects_of(database: str) -> Suspects:
    """The one `Suspects` of `database` in this process (SQLite shares the mapping process-wide,
    whichever engine or pool opened the connection)."""
    path = os.path.abspath(database)
    with _REGISTRY_LOCK:
        found = _SUSPECTS.get(path)
        if found is None:
            found = _SUSPECTS[path] = Suspects(path)
        return found


def keep_no_suspects(engine: Engine, database: str) -> None:
    """`engine`'s pool marks each connection it opens on `database` that is suspect, closes it
    when it is returned rather than keeping it, and counts it closed. (Registered after the
    connection's own settings, so the mark is made as soon as it is open.)"""
    suspects = suspects_of(database)

    def on_connect(_dbapi_connection: Any, record: Any) -> None:
        if suspects.opened():
            record.info[SUSPECT] = True

    def on_checkin(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None and record.info.get(SUSPECT):
            record.invalidate()  # closed now; the pool opens a new one when next asked

    def on_close(_dbapi_connection: Any, record: Any) -> None:
        if record.info.pop(SUSPECT, False):
            suspects.closed()

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "checkin", on_checkin)
    event.listen(engine, "close", on_close)
