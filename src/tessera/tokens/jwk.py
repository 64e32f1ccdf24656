"""Key material for signing and verifying: generation, import, RFC 7638 `kid`, public JWKs.

Each key is bound to exactly one algorithm when it is created or imported; verification later
looks the algorithm up from the key, never from the token header (RFC 8725 §3.1).
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from typing import Any, Protocol

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, OctKey, OKPKey, RSAKey, import_key
from joserfc.jws import JWSRegistry

ALGORITHMS = ("RS256", "ES256", "EdDSA", "HS256")
RSA_BITS = 2048
HMAC_BYTES = 32
# RFC 7638 thumbprints are 43 base64url characters; imported JWKS may use other kid styles,
# but never anything that could be a path, a query or markup.
KID_PATTERN = re.compile(r"[A-Za-z0-9._~+/=-]{1,128}")


class JWSAlgorithm(Protocol):
    """The part of joserfc's algorithm model Tessera uses."""

    name: str

    def sign(self, msg: bytes, key: Any) -> bytes: ...
    def verify(self, msg: bytes, sig: bytes, key: Any) -> bool: ...
    def check_key(self, key: Any) -> None: ...


class KeyMaterialError(ValueError):
    """Key material that cannot be used: wrong type, wrong size, unsupported algorithm."""


def _algorithm(alg: str) -> JWSAlgorithm:
    if alg not in ALGORITHMS:
        raise KeyMaterialError(f"unsupported algorithm {alg!r}")
    with warnings.catch_warnings():
        # joserfc warns that RFC 9864 renames EdDSA to Ed25519; the name is what verifiers know.
        warnings.simplefilter("ignore")
        return JWSRegistry(algorithms=[alg]).get_alg(alg)


@dataclass(frozen=True)
class SigningKey:
    """One key and the one algorithm it is used with."""

    kid: str
    alg: str
    key: Key
    algorithm: JWSAlgorithm

    @property
    def symmetric(self) -> bool:
        return isinstance(self.key, OctKey)

    @property
    def can_sign(self) -> bool:
        return self.symmetric or bool(self.key.is_private)

    def sign(self, message: bytes) -> bytes:
        return self.algorithm.sign(message, self.key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        return bool(self.algorithm.verify(message, signature, self.key))

    def public_jwk(self) -> dict[str, Any] | None:
        """The JWKS entry; `None` for a symmetric key, which is never published."""
        if self.symmetric:
            return None
        jwk = dict(self.key.as_dict(private=False))
        jwk.update({"kid": self.kid, "alg": self.alg, "use": "sig"})
        return jwk

    def private_json(self) -> bytes:
        """The private JWK as JSON: what gets sealed and stored."""
        return json.dumps(self.key.as_dict(private=True), sort_keys=True).encode()


def _bind(key: Key, alg: str, kid: str | None = None) -> SigningKey:
    algorithm = _algorithm(alg)
    try:
        algorithm.check_key(key)
    except JoseError as exc:
        raise KeyMaterialError(f"this key cannot be used with {alg}: {exc}") from exc
    if isinstance(key, RSAKey) and key.public_key.key_size < RSA_BITS:
        raise KeyMaterialError(f"RSA keys must have at least {RSA_BITS} bits")
    if isinstance(key, OctKey) and len(key.raw_value) < HMAC_BYTES:
        raise KeyMaterialError(f"HMAC keys must have at least {HMAC_BYTES} bytes")
    kid = kid or key.thumbprint()
    if not KID_PATTERN.fullmatch(kid):
        raise KeyMaterialError("unusable kid")
    return SigningKey(kid=kid, alg=alg, key=key, algorithm=algorithm)


def generate_key(alg: str) -> SigningKey:
    """A fresh key for `alg`, its `kid` the RFC 7638 thumbprint."""
    key: Key
    if alg == "RS256":
        key = RSAKey.generate_key(RSA_BITS, auto_kid=False)
    elif alg == "ES256":
        key = ECKey.generate_key("P-256", auto_kid=False)
    elif alg == "EdDSA":
        key = OKPKey.generate_key("Ed25519", auto_kid=False)
    elif alg == "HS256":
        key = OctKey.generate_key(HMAC_BYTES * 8, auto_kid=False)
    else:
        raise KeyMaterialError(f"unsupported algorithm {alg!r}")
    return _bind(key, alg)


def load_private_json(alg: str, kid: str, data: bytes) -> SigningKey:
    """A stored key back from its private JWK JSON."""
    return _bind(import_key(json.loads(data)), alg, kid)


def import_pem(pem: bytes) -> SigningKey:
    """An existing private key (PEM); its algorithm follows from its type."""
    try:
        key = import_key(pem)
    except (JoseError, ValueError, TypeError) as exc:
        raise KeyMaterialError(f"not a usable PEM private key: {exc}") from exc
    if not key.is_private:
        raise KeyMaterialError("a private key is needed to sign")
    if isinstance(key, RSAKey):
        alg = "RS256"
    elif isinstance(key, ECKey) and key.curve_name == "P-256":
        alg = "ES256"
    elif isinstance(key, OKPKey) and key.curve_name == "Ed25519":
        alg = "EdDSA"
    else:
        raise KeyMaterialError(
            "supported key types: RSA (RS256), EC P-256 (ES256), Ed25519 (EdDSA)"
        )
    return _bind(key, alg)


def from_public_pem(pem: bytes) -> SigningKey:
    """A verification key from a PEM public key (SPKI); its algorithm follows from its type."""
    if b"-----BEGIN" not in pem:
        raise KeyMaterialError("not a PEM key")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # joserfc notes that the key type was inferred
            key = import_key(pem)
    except (JoseError, ValueError, TypeError) as exc:
        raise KeyMaterialError(f"not a usable PEM public key: {exc}") from exc
    if isinstance(key, OctKey):
        raise KeyMaterialError("not a PEM public key")
    return _bind(key, _algorithm_for(key))


def from_secret(secret: bytes) -> SigningKey:
    """An HS256 key from a shared secret (at least 32 bytes: RFC 7518 §3.2)."""
    if secret.lstrip().startswith((b"-----BEGIN", b"ssh-", b"ecdsa-")):
        raise KeyMaterialError("that is a public or private key, not a shared secret")
    try:
        key = OctKey.import_key(secret)
    except (JoseError, ValueError, TypeError) as exc:
        raise KeyMaterialError(f"not a usable HMAC secret: {exc}") from exc
    return _bind(key, "HS256")


def _algorithm_for(key: Key) -> str:
    if isinstance(key, RSAKey):
        return "RS256"
    if isinstance(key, ECKey) and key.curve_name == "P-256":
        return "ES256"
    if isinstance(key, OKPKey) and key.curve_name == "Ed25519":
        return "EdDSA"
    raise KeyMaterialError("supported key types: RSA (RS256), EC P-256 (ES256), Ed25519 (EdDSA)")


def from_public_jwk(jwk: dict[str, Any], alg: str | None = None) -> SigningKey:
    """A verification key from a JWKS entry (public members only are used)."""
    kid = jwk.get("kid")
    if not isinstance(kid, str):
        raise KeyMaterialError("a JWK without `kid` cannot be selected")
    if jwk.get("use", "sig") != "sig":
        raise KeyMaterialError("this JWK is not for signatures")
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise KeyMaterialError("this JWK's key_ops do not allow verify")
    public = {k: v for k, v in jwk.items() if k not in {"d", "p", "q", "dp", "dq", "qi", "k"}}
    try:
        key = import_key(public)
    except (JoseError, ValueError, TypeError) as exc:
        raise KeyMaterialError(f"unusable JWK: {exc}") from exc
    # Pinned: the caller's choice, else the JWK's own `alg`, else the one its key type implies.
    bound_alg = alg or jwk.get("alg") or _algorithm_for(key)
    if not isinstance(bound_alg, str):
        raise KeyMaterialError("the JWK's alg is not a string")
    return _bind(key, bound_alg, kid)
