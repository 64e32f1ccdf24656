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
from urllib.parse import unquote

from sqlalchemy import URL, make_url

log = logging.getLogger("tessera.store")

PRIVATE = 0o600
OPEN_TO_OTHERS = 0o077  # any group or other permission
WRITABLE_BY_OTHERS = 0o022
SIDE_FILES = ("-wal", "-shm", "-journal")
TRUE = frozenset({"true", "yes", "on", "y", "t", "1"})  # what SQLAlchemy reads as `uri=true`


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


def private_directory(directory: Path) -> None:
    """`directory`, and each missing directory above it, created 0700. `mkdir(parents=True)`
    gives the parents the umask's mode (0777 under umask 000), and the umask can strip bits
    from any mode asked for, so each directory made here is chmod'ed 0700 too. A directory
    that already exists keeps its mode: it is the operator's (`check_directory` judges it)."""
    missing: list[Path] = []
    current = directory.absolute()
    while not current.exists():
        missing.append(current)
        current = current.parent
    for new in reversed(missing):
        try:
            new.mkdir(mode=0o700)
        except FileExistsError:  # made meanwhile by someone else: not ours to change
            continue
        os.chmod(new, 0o700)


def private_sqlite_files(url: str) -> None:
    """Before SQLAlchemy opens the SQLite database at `url`: its directory exists (a new one
    0700) and no one else can write to it, and the database file exists with mode 0600 —
    so SQLite's `-wal` and `-shm` files, which take the database file's mode, are 0600 too.
    In-memory databases are left alone; a `file:` URI's file is treated like any other."""
    path, create = sqlite_file(make_url(url))
    if path is None:
        return
    if create:
        private_directory(path.parent)
    elif not path.parent.is_dir():
        return  # SQLite will not create it either, and says so
    check_directory(path.parent, "the database directory")
    if create:
        with suppress(FileExistsError):  # an empty file is a new database to SQLite
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
    for file in (path, *(path.with_name(path.name + side) for side in SIDE_FILES)):
        make_private(file)


def sqlite_file(url: URL) -> tuple[Path | None, bool]:
    """The file SQLite opens for `url` (None: in memory), and whether it may create it.

    With `uri=true` SQLAlchemy hands SQLite a name starting `file:` as a URI
    (https://sqlite.org/uri.html): an optional `//` authority (empty or `localhost`), a
    %-encoded path, and options, some in the URL's query (`mode=memory`, `mode=ro`,
    `vfs=memdb`). Without it, or without `file:`, the name is the file's own name."""
    name = url.database or ""
    options = {key: str(value).lower() for key, value in url.query.items()}
    if name in ("", ":memory:"):
        return None, False
    if options.get("uri") not in TRUE or not name.startswith("file:"):
        return Path(name).absolute(), True
    location = name.removeprefix("file:").split("#", 1)[0].split("?", 1)[0]
    if location.startswith("//"):  # the path starts where the authority ends
        location = location[2 + len(location[2:].split("/", 1)[0]) :]
    path = unquote(location)
    in_memory = options.get("mode") == "memory" or options.get("vfs", "").startswith("memdb")
    if path in ("", ":memory:") or in_memory:
        return None, False
    return Path(path).absolute(), options.get("mode", "rwc") == "rwc"
