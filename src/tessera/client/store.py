"""A file that keeps a session across runs, shared safely by several processes.

Writes are atomic (a temp file in the same directory, then rename) and private (mode 0600).
A lock file serialises refreshes between processes: the one that gets the lock second finds
the rotated tokens already saved and adopts them instead of rotating again, which with
rotating refresh tokens would burn the session.

A session bound to a DPoP key cannot refresh without it, so the private key is kept in the same
private file, beside the refresh token it protects.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tessera.client.tokens import TokenSet
from tessera.dpop import ProofKey


class FileTokenStore:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def load(self) -> TokenSet | None:
        """The saved tokens, or None when there are none (or the file is unreadable)."""
        try:
            data = json.loads(self.path.read_text())
            return TokenSet.from_dict(data)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def load_key(self) -> ProofKey | None:
        """The session's DPoP key, if one was saved with its tokens."""
        try:
            jwk = json.loads(self.path.read_text()).get("dpop_key")
            return ProofKey.from_private_jwk(jwk) if isinstance(jwk, dict) else None
        except (OSError, ValueError, AttributeError):
            return None

    def save(self, tokens: TokenSet, key: ProofKey | None = None) -> None:
        """Save `tokens` (and the DPoP key the session is bound to) atomically, mode 0600."""
        data = tokens.as_dict()
        if key is not None:
            data["dpop_key"] = key.private_jwk()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w") as handle:  # mkstemp already made it 0600
                json.dump(data, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def acquire(self) -> int:
        """Take the cross-process lock (blocking); returns the descriptor to `release`."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        return fd

    @staticmethod
    def release(fd: int) -> None:
        os.close(fd)  # closing the descriptor releases the lock

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        fd = self.acquire()
        try:
            yield
        finally:
            self.release(fd)
