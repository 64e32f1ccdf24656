"""Dangerous on purpose: checking a JWT's signature and nothing else.

A valid signature says who issued a token, not that it may be accepted: this does not look at
`exp`, `nbf`, `iss`, `aud`, `typ`, the revocation list or anything else in it, so a token
expired for a year, issued for another service or for a revoked session passes. Anything that
decides whether to let a request in uses `tessera.verify.Verifier` (or
`AccessTokenPolicy.verify`), which checks all of that. This is for tools that only report on a
token, like `tessera decode`.
"""

from __future__ import annotations

from tessera.tokens import InvalidToken, SigningKey
from tessera.tokens.strict_json import StrictJSONError, b64url_decode, loads_object

__all__ = ["check_signature"]


def check_signature(token: str, key: SigningKey) -> None:
    """Verify only the JWS signature of a compact JWT with `key`, or raise `InvalidToken`. The
    token's `alg` must be the one the key is bound to; its claims are not looked at."""
    parts = token.split(".")
    if len(parts) != 3 or not token.isascii():
        raise InvalidToken("malformed", "not a JWS in compact form")
    try:
        header = loads_object(b64url_decode(parts[0]))
        signature = b64url_decode(parts[2])
    except StrictJSONError as exc:
        raise InvalidToken("malformed", f"bad header or signature: {exc}") from None
    if header.get("alg") != key.alg:
        shown = repr(header.get("alg"))[:40]
        raise InvalidToken("wrong_algorithm", f"alg is {shown}; the key is {key.alg}")
    if header.get("crit") is not None:
        raise InvalidToken("unsupported_header", "crit extensions are not understood")
    try:
        valid = key.verify(f"{parts[0]}.{parts[1]}".encode("ascii"), signature)
    except Exception:  # noqa: BLE001 - a library failure on hostile input is a bad signature
        valid = False
    if not valid:
        raise InvalidToken("bad_signature", "signature does not verify")
