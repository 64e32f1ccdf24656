"""Server nonces for DPoP (RFC 9449 §8): stateless and expiring, so any replica accepts any
replica's. A nonce is the time it was made and a MAC of that time under a key derived from the
deployment's shared secret; checking it needs no storage and no coordination."""

from __future__ import annotations

import hashlib
import hmac
import struct

from tessera.tokens.strict_json import StrictJSONError, b64url_decode, b64url_encode

NONCE_TTL = 300.0  # seconds a nonce stays acceptable
_LABEL = b"tessera dpop nonce v1"
_MAC_BYTES = 16


class Nonces:
    """Make and check nonces under `secret` (the same on every replica)."""

    def __init__(self, secret: bytes, ttl: float = NONCE_TTL, leeway: float = 5.0) -> None:
        self._key = hmac.new(secret, _LABEL, hashlib.sha256).digest()
        self.ttl = ttl
        self.leeway = leeway

    def issue(self, now: float) -> str:
        stamp = struct.pack(">Q", int(now))
        return b64url_encode(stamp + self._mac(stamp))

    def valid(self, nonce: object, now: float) -> bool:
        """Made under this secret, no more than `ttl` seconds ago (and not in the future)."""
        if not isinstance(nonce, str) or len(nonce) != 32:
            return False
        try:
            raw = b64url_decode(nonce)
        except StrictJSONError:
            return False
        stamp, mac = raw[:8], raw[8:]
        if not hmac.compare_digest(mac, self._mac(stamp)):
            return False
        made: int = struct.unpack(">Q", stamp)[0]
        return made - self.leeway <= now <= made + self.ttl

    def _mac(self, stamp: bytes) -> bytes:
        return hmac.new(self._key, stamp, hashlib.sha256).digest()[:_MAC_BYTES]
