"""Reading a JWKS document: the one set of rules for which entries are usable verification
keys, shared by the verifier (a JWKS URL it is configured with) and `tessera decode --jwks`.

An entry is usable when `from_public_jwk` accepts it: it has a `kid`, is for signatures, and
imports as a supported public key (private members are dropped, never used). A JWKS carries no
secrets, and a `kid` seen twice is ambiguous: the first entry wins. Every other entry is
skipped, with the reason, so a tool can say why a key it expected is not there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tessera.tokens.jwk import SigningKey, from_public_jwk
from tessera.tokens.strict_json import StrictJSONError, loads_object


class JWKSError(Exception):
    """The key set could not be fetched or read."""


@dataclass(frozen=True)
class Skipped:
    """A JWKS entry that is not a usable key: its `kid` as given (any JSON value, or `None`)
    and why."""

    kid: object
    reason: str


@dataclass(frozen=True)
class JWKS:
    """The usable keys of a JWKS by `kid`, in document order, and the entries skipped."""

    keys: dict[str, SigningKey]
    skipped: tuple[Skipped, ...] = ()


def parse_jwks(document: object) -> JWKS:
    """The usable verification keys of a parsed JWKS document (`{"keys": [...]}`)."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise JWKSError("not a JWKS: no 'keys' list")
    keys: dict[str, SigningKey] = {}
    skipped: list[Skipped] = []
    for entry in document["keys"]:
        if not isinstance(entry, dict):
            skipped.append(Skipped(None, "an entry that is not an object"))
            continue
        kid = entry.get("kid")
        try:
            key = from_public_jwk(entry)
        except Exception as exc:  # noqa: BLE001 - joserfc raises KeyError for an unknown curve,
            # among others: whatever it cannot import is an unusable entry.
            skipped.append(Skipped(kid, str(exc) or type(exc).__name__))
            continue
        if key.symmetric:
            skipped.append(Skipped(kid, "a secret key: a JWKS never carries one"))
        elif key.kid in keys:
            skipped.append(Skipped(kid, "a duplicate kid: the first entry with it is used"))
        else:
            keys[key.kid] = key
    return JWKS(keys, tuple(skipped))


def read_jwks(body: bytes) -> JWKS:
    """`parse_jwks` of a JWKS as bytes, which must be strict JSON: UTF-8, bounded nesting, no
    duplicate members (a JWKS that can be read two ways is not read)."""
    try:
        document = loads_object(body)
    except StrictJSONError as exc:
        raise JWKSError(f"JWKS is not strict JSON ({exc})") from None
    return parse_jwks(document)
