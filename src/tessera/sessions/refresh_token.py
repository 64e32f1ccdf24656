"""The refresh token itself: 256 random bits behind a version prefix, stored only as SHA-256.

The prefix makes leaked tokens easy to spot by secret scanners; the hash is enough at rest
because the token has full entropy (RFC 6819 §5.1.4.1.3 — no salt or slow hash needed).
"""

from __future__ import annotations

import hashlib
import re
import secrets

PREFIX = "tsr1_"
SECRET_BYTES = 32
_SHAPE = re.compile(r"tsr1_[A-Za-z0-9_-]{43}")


def new_refresh_token() -> str:
    return PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def well_formed(token: object) -> bool:
    return isinstance(token, str) and _SHAPE.fullmatch(token) is not None


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii")).digest()


def seal_context(session_id: str, generation: int) -> bytes:
    """Binds a sealed token to its session and generation: it cannot be moved to another row."""
    return f"{session_id}:{generation}".encode()
