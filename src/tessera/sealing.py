"""Encryption at rest: AES-256-GCM under keys derived from one master secret.

The master secret is `TESSERA_SECRET` when set, otherwise a random file (mode 0600) created in
the data directory on first start; a secret file others can read, or a data directory others
can write to (they could swap the file for one of their own), is refused. Each use (signing
keys, refresh tokens kept for the grace window) gets its own key through HKDF, so one
purpose's ciphertext never opens as another's.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tessera.store.file_modes import check_directory, private_directory

SECRET_FILE = "secret.key"
NONCE_BYTES = 12
MIN_SECRET_BYTES = 16


class SealError(Exception):
    """A ciphertext that does not open: wrong secret, wrong purpose, or tampered with."""


class Sealer:
    """Seals and opens byte strings for one purpose."""

    def __init__(self, master: bytes, purpose: str) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"tessera/" + purpose.encode()
        ).derive(master)
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, context: bytes = b"") -> bytes:
        """Encrypt; `context` is authenticated but not stored (bind the ciphertext to its row)."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, context)

    def open(self, sealed: bytes, context: bytes = b"") -> bytes:
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context)
        except (InvalidTag, ValueError) as exc:
            raise SealError("ciphertext does not open with this secret") from exc


def load_master_secret(configured: str | None, data_dir: Path) -> bytes:
    """The configured secret, or the data dir's secret file (created, 0600, when missing)."""
    if configured is not None:
        raw = configured.encode()
        if len(raw) < MIN_SECRET_BYTES:
            raise ValueError(f"TESSERA_SECRET must be at least {MIN_SECRET_BYTES} bytes long")
        return raw
    path = data_dir / SECRET_FILE
    private_directory(data_dir)
    # Listing it shows only a name (the file itself must be 0600); the database's own
    # directory check warns about that when the database lives here too.
    check_directory(data_dir, "the data directory", warn_if_readable=False)
    if not path.exists():
        _create_secret_file(path)
    return _read_secret_file(path)


def _create_secret_file(path: Path) -> None:
    """Write a new secret beside `path`, then link it into place: a process starting at the
    same moment sees no file or a whole one (never an empty one), and the first link wins."""
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)  # another process's secret was first: use that one
    finally:
        draft.unlink()


def _read_secret_file(path: Path) -> bytes:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise PermissionError(f"{path} is readable by others (mode {mode:o}); chmod 600 it")
    raw = path.read_text().strip().encode()
    if len(raw) < MIN_SECRET_BYTES:
        raise ValueError(f"{path} holds no usable secret")
    return raw
