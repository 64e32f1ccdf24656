"""The client's side: a DPoP key (P-256 by default; it never leaves the client) and the proofs
it signs for each request."""

from __future__ import annotations

import secrets
import warnings
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey
from joserfc.jws import JWSRegistry

from tessera.dpop.keys import thumbprint
from tessera.dpop.proof import PROOF_TYPE, access_token_hash
from tessera.tokens.strict_json import b64url_encode, dumps_compact

KEY_ALGORITHMS = {"ES256": ("EC", "P-256"), "EdDSA": ("OKP", "Ed25519")}


class ProofKey:
    """One private key and the algorithm its proofs use."""

    def __init__(self, key: ECKey | OKPKey, alg: str = "ES256") -> None:
        if alg not in KEY_ALGORITHMS or not key.is_private:
            raise ValueError("a DPoP key is a private ES256 (P-256) or EdDSA (Ed25519) key")
        self.key = key
        self.alg = alg
        self.public_jwk: dict[str, Any] = dict(key.as_dict(private=False))
        self.jkt = thumbprint(self.public_jwk)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # joserfc's note on RFC 9864's EdDSA rename
            self._algorithm = JWSRegistry(algorithms=[alg]).get_alg(alg)
        self._header = b64url_encode(
            dumps_compact({"typ": PROOF_TYPE, "alg": alg, "jwk": self.public_jwk})
        )

    @classmethod
    def generate(cls, alg: str = "ES256") -> ProofKey:
        if alg == "EdDSA":
            return cls(OKPKey.generate_key("Ed25519"), alg)
        return cls(ECKey.generate_key(KEY_ALGORITHMS[alg][1]), alg)

    @classmethod
    def from_private_jwk(cls, jwk: dict[str, Any]) -> ProofKey:
        """A key saved with `private_jwk()`; `ValueError` if it is not one."""
        jwk = dict(jwk)
        alg = str(jwk.pop("alg", "ES256"))
        try:
            key = ECKey.import_key(jwk) if jwk.get("kty") == "EC" else OKPKey.import_key(jwk)
        except (JoseError, TypeError, KeyError) as exc:
            raise ValueError(f"not a saved DPoP key: {exc}") from None
        return cls(key, alg)

    def private_jwk(self) -> dict[str, Any]:
        """The key to keep (secret): its private JWK, with `alg`."""
        return {**self.key.as_dict(private=True), "alg": self.alg}

    def proof(
        self,
        method: str,
        url: str,
        *,
        now: float,
        access_token: str | None = None,
        nonce: str | None = None,
    ) -> str:
        """A proof for one request (`htu`: `url` without query and fragment)."""
        parts = urlsplit(url)
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method.upper(),
            "htu": urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", "")),
            "iat": int(now),
        }
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        if nonce is not None:
            claims["nonce"] = nonce
        signing_input = self._header + "." + b64url_encode(dumps_compact(claims))
        signature = self._algorithm.sign(signing_input.encode("ascii"), self.key)
        return signing_input + "." + b64url_encode(signature)
