"""Files that hold secrets stay private to the user Tessera runs as.

SQLite creates a database file with mode 0644 less the umask, and its `-wal` and `-shm` files
with the database file's mode, so in a directory others can enter, every local user could read
the password hashes. Here the database file is created 0600 before SQLite opens it (its side
files then follow), and files left open to others by an earlier version are made 0600 with a
warning. (A readable secret file is refused instead: a leaked secret must be replaced, which
only the operator can do; a database Tessera itself left 0644 is simply closed from now on.)

A directory others can write to is refused: anyone could put their own database or secret in
it. A directory others can only read is a warning: they see file names, never contents.
"""

from __future__ import annotations

import logging
import os
from contextlib import suppress
from pathlib import Path

from sqlalchemy import make_url

log = logging.getLogger("tessera.store")

PRIVATE = 0o600
OPEN_TO_OTHERS = 0o077  # any group or other permission
WRITABLE_BY_OTHERS = 0o022
SIDE_FILES = ("-wal", "-shm", "-journal")


class UnsafePermissions(PermissionError):
    """A directory or file that others could change, or that cannot be made private."""


def check_directory(directory: Path, what: str, *, warn_if_readable: bool = True) -> None:
    """Refuse `directory` if others can write to it; warn if they can list it."""
    mode = directory.stat().st_mode & 0o7777
    if mode & WRITABLE_BY_OTHERS:
        raise UnsafePermissions(
            f"{what} {directory} is writable by other users (mode {mode:o}), who could "
            f"replace the files in it: chmod 700 it (or choose another directory)"
        )
    if warn_if_readable and mode & OPEN_TO_OTHERS:
        log.warning(
            "%s %s is open to other users (mode %o): they can see the names of its files, "
            "not their contents; chmod 700 it",
            what,
            directory,
            mode,
        )


def make_private(path: Path) -> None:
    """An existing file open to others becomes 0600 (said loudly: it may have been copied)."""
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        return
    if not mode & OPEN_TO_OTHERS:
        return
    try:
        os.chmod(path, PRIVATE)
    except OSError as exc:
        raise UnsafePermissions(
            f"{path} is readable by other users (mode {mode:o}) and cannot be made private "
            f"({exc.strerror}): chmod 600 it"
        ) from None
    log.warning(
        "%s was readable by other users (mode %o); it is now 0600. Anyone who could read "
        "it may have copied what it holds (for a database: the password hashes)",
        path,
        mode,
    )


def private_sqlite_files(url: str) -> None:
    """Before SQLAlchemy opens the SQLite database at `url`: its directory exists (a new one
    0700) and no one else can write to it, and the database file exists with mode 0600 —
    so SQLite's `-wal` and `-shm` files, which take the database file's mode, are 0600 too.
    In-memory and `file:` URI databases are left alone."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database).absolute()  # messages name the real place, not "."
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    check_directory(path.parent, "the database directory")
    with suppress(FileExistsError):  # an empty file is a new database to SQLite
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
    for file in (path, *(path.with_name(path.name + side) for side in SIDE_FILES)):
        make_private(file)
