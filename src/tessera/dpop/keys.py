"""The public key in a proof's `jwk` header: checked against its `alg`, imported once (cached by
its canonical form), and named by its RFC 7638 thumbprint — what a session and its access
tokens (`cnf.jkt`) are bound to."""

from __future__ import annotations

import hashlib
import json
import warnings
from collections import OrderedDict
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from tessera.dpop.errors import InvalidProof
from tessera.tokens.strict_json import StrictJSONError, b64url_decode, b64url_encode

# Asymmetric algorithms only (RFC 9449 §4.3: never `none` nor a MAC), each with the key it needs.
PROOF_ALGORITHMS: dict[str, tuple[str, str | None]] = {
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "EdDSA": ("OKP", "Ed25519"),
    "Ed25519": ("OKP", "Ed25519"),  # RFC 9864's name for it
    "RS256": ("RSA", None),
    "PS256": ("RSA", None),
}
MIN_RSA_BITS = 2048
RSA_EXPONENT = "AQAB"  # 65537, what every RSA key generator uses
MAX_RSA_BITS = 8192
# Members that only a private (or symmetric) key has: a proof carrying one is refused.
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# RFC 7638: the members a thumbprint covers, per key type, in lexicographic order.
THUMBPRINT_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "RSA": ("e", "kty", "n"),
}
CACHE_SIZE = 1024
_KEY_TYPES: dict[str, type[Key]] = {"EC": ECKey, "OKP": OKPKey, "RSA": RSAKey}

_cache: OrderedDict[tuple[object, ...], tuple[Key, str]] = OrderedDict()


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638: base64url(SHA-256) of the required members, as compact JSON in order."""
    kty = jwk.get("kty")
    members = THUMBPRINT_MEMBERS.get(kty if isinstance(kty, str) else "")
    if members is None or not all(isinstance(jwk.get(m), str) for m in members):
        raise InvalidProof("bad_key", "the proof's jwk is not an EC, OKP or RSA public key")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(canonical.encode()).digest())


def public_key_of(jwk: object, alg: str) -> tuple[Key, str]:
    """The key `jwk` describes, for verifying `alg`, and its thumbprint. Raises `InvalidProof`
    for a private member, a key of the wrong type or curve for `alg`, or a weak RSA key."""
    if not isinstance(jwk, dict):
        raise InvalidProof("bad_key", "the proof's jwk is not a JSON object")
    if PRIVATE_MEMBERS & jwk.keys():
        raise InvalidProof("private_key", "the proof's jwk holds a private key")
    wanted = PROOF_ALGORITHMS.get(alg)
    if wanted is None:
        raise InvalidProof("bad_algorithm", f"alg {alg!r} is not accepted for DPoP proofs")
    kty, crv = wanted
    if jwk.get("kty") != kty or (crv is not None and jwk.get("crv") != crv):
        raise InvalidProof("bad_key", f"the proof's jwk is not a key for {alg}")
    members = THUMBPRINT_MEMBERS[kty]
    values = tuple(jwk.get(m) for m in members)
    if not all(isinstance(v, str) for v in values):
        raise InvalidProof("bad_key", "the proof's jwk is not an EC, OKP or RSA public key")
    # Keyed by the members themselves: a returning client's key costs a lookup, not the
    # thumbprint's JSON and SHA-256 (computed once, with the import, and cached with it).
    cache_key = (alg, *values)
    cached = _cache.get(cache_key)
    if cached is not None:
        _cache.move_to_end(cache_key)
        return cached
    jkt = thumbprint(jwk)
    if kty == "RSA" and not MIN_RSA_BITS <= _modulus_bits(jwk["n"]) <= MAX_RSA_BITS:
        raise InvalidProof("bad_key", "the proof's RSA key is too small or too large")
    if kty == "RSA" and jwk["e"] != RSA_EXPONENT:
        # A huge public exponent makes each (junk) signature cost a private-key operation,
        # on the event loop, before any credential is looked at: 65537 only.
        raise InvalidProof("bad_key", "the proof's RSA exponent is not 65537")
    try:
        key = _KEY_TYPES[kty].import_key({m: jwk[m] for m in members})
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidProof("bad_key", "the proof's jwk is not a valid public key") from exc
    _cache[cache_key] = (key, jkt)
    if len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return key, jkt


def _modulus_bits(n: str) -> int:
    try:
        return int.from_bytes(b64url_decode(n), "big").bit_length()
    except StrictJSONError:
        raise InvalidProof("bad_key", "the proof's RSA modulus is not base64url") from None


_algorithms: dict[str, Any] = {}


def verify_signature(alg: str, key: Key, message: bytes, signature: bytes) -> bool:
    """joserfc's implementation of `alg` (an allow-listed name: never anything else)."""
    algorithm = _algorithms.get(alg)
    if algorithm is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # joserfc's note on RFC 9864's EdDSA rename
            algorithm = _algorithms[alg] = JWSRegistry(algorithms=[alg]).get_alg(alg)
    try:
        return bool(algorithm.verify(message, signature, key))
    except Exception:  # noqa: BLE001 - a library failure on hostile input is a bad signature
        return False
