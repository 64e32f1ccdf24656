"""Checking a DPoP proof exactly as RFC 9449 §4.3 lists it.

In order, cheapest first and nothing trusted before its signature: the size, the header
(`typ` dpop+jwt, an allow-listed asymmetric `alg`, a public `jwk` that fits it and nothing
else), the signature under that key, then the claims — `htm` and `htu` against this request
(`htu` normalised), `iat` within the window, the server's `nonce` when one is required, `ath`
against the access token, the key against the one the token or session is bound to — and
last the `jti`, which must not have been seen within the window.

A valid server nonce proves freshness by itself: a proof that carries one is accepted even if
the client's clock is off, so a client whose `iat` falls outside the window is answered
`use_dpop_nonce` (when this checker makes nonces) and recovers on its next try.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection
from dataclasses import dataclass

from tessera.dpop.errors import InvalidProof, UseNonce
from tessera.dpop.keys import PROOF_ALGORITHMS, public_key_of, verify_signature
from tessera.dpop.nonces import Nonces
from tessera.dpop.replay import SeenProofs
from tessera.dpop.urls import normalized
from tessera.tokens.strict_json import (
    StrictJSONError,
    b64url_decode,
    b64url_encode,
    loads_object,
)

PROOF_TYPE = "dpop+jwt"
ALLOWED_HEADER = frozenset({"typ", "alg", "jwk"})
DEFAULT_ALGORITHMS = ("ES256", "ES384", "EdDSA", "Ed25519", "RS256", "PS256")
MAX_PROOF_BYTES = 4096
MAX_CLAIM_LENGTH = 256  # jti, nonce, ath
MAX_AGE = 60.0  # seconds a proof stays acceptable after its iat
LEEWAY = 5.0  # seconds of clock difference tolerated either way


def access_token_hash(token: str) -> str:
    """`ath`: base64url(SHA-256) of the access token's ASCII text."""
    return b64url_encode(hashlib.sha256(token.encode("ascii")).digest())


@dataclass(frozen=True, slots=True)
class Proof:
    """A verified proof: who signed it (`jkt`, the key's thumbprint) and what it was for."""

    jkt: str
    jti: str
    htm: str
    htu: str
    iat: float
    alg: str
    nonce: str | None = None
    ath: str | None = None


class ProofChecker:
    """Checks proofs for one server or verifier. `nonces`: make and accept server nonces
    (required with `require_nonce`); `seen`: the replay cache (one per process)."""

    def __init__(
        self,
        *,
        algorithms: Collection[str] = DEFAULT_ALGORITHMS,
        max_age: float = MAX_AGE,
        leeway: float = LEEWAY,
        nonces: Nonces | None = None,
        require_nonce: bool = False,
        seen: SeenProofs | None = None,
    ) -> None:
        unknown = set(algorithms) - PROOF_ALGORITHMS.keys()
        if unknown:
            raise ValueError(f"not DPoP proof algorithms: {', '.join(sorted(unknown))}")
        if require_nonce and nonces is None:
            raise ValueError("require_nonce needs nonces")
        self.algorithms = tuple(algorithms)
        self.max_age = max_age
        self.leeway = leeway
        self.nonces = nonces
        self.require_nonce = require_nonce
        self.seen = seen if seen is not None else SeenProofs()

    def fresh_nonce(self, now: float) -> str | None:
        """A nonce to offer in `DPoP-Nonce` (None without nonces)."""
        return self.nonces.issue(now) if self.nonces is not None else None

    def check(
        self,
        proof: str | None,
        *,
        method: str,
        url: str,
        now: float,
        access_token: str | None = None,
        jkt: str | None = None,
    ) -> Proof:
        """The verified proof for a request of `method` to `url`, presented with
        `access_token` (its `ath` must match) by the holder of the key `jkt` (when the token
        or session is bound). Raises `InvalidProof` or `UseNonce`, nothing else."""
        if not proof:
            raise InvalidProof("missing", "a DPoP proof is required")
        if len(proof) > MAX_PROOF_BYTES or not proof.isascii():
            raise InvalidProof("malformed", "the DPoP proof is too large or not ASCII")
        parts = proof.split(".")
        if len(parts) != 3:
            raise InvalidProof("malformed", "the DPoP proof is not a JWS in compact form")
        try:
            header = loads_object(b64url_decode(parts[0]))
            signature = b64url_decode(parts[2])
        except StrictJSONError as exc:
            raise InvalidProof("malformed", f"bad proof header or signature: {exc}") from None
        alg = self._check_header(header)
        key, thumbprint = public_key_of(header.get("jwk"), alg)
        signing_input = (parts[0] + "." + parts[1]).encode("ascii")
        if not verify_signature(alg, key, signing_input, signature):
            raise InvalidProof("bad_signature", "the DPoP proof's signature does not verify")
        try:
            claims = loads_object(b64url_decode(parts[1]))
        except StrictJSONError as exc:
            raise InvalidProof("malformed", f"bad proof claims: {exc}") from None
        checked = self._check_claims(claims, alg, thumbprint, method, url, now)
        if access_token is not None and checked.ath != access_token_hash(access_token):
            raise InvalidProof("wrong_token", "the DPoP proof is not for this access token")
        if jkt is not None and thumbprint != jkt:
            raise InvalidProof("wrong_key", "the DPoP proof is signed by another key")
        until = now + self.max_age + 2 * self.leeway
        if checked.nonce is not None and self.nonces is not None:
            until = max(until, now + self.nonces.ttl + self.leeway)
        if not self.seen.first_use(thumbprint + ":" + checked.jti, until, now):
            raise InvalidProof("replayed", "this DPoP proof was already used")
        return checked

    def _check_header(self, header: dict[str, object]) -> str:
        unknown = header.keys() - ALLOWED_HEADER
        if unknown:
            raise InvalidProof(
                "bad_header", "proof header parameters not accepted: " + ", ".join(sorted(unknown))
            )
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() != PROOF_TYPE:
            raise InvalidProof("wrong_type", "the proof's typ is not dpop+jwt")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise InvalidProof("bad_algorithm", "the proof's alg is not accepted")
        return alg

    def _check_claims(
        self,
        claims: dict[str, object],
        alg: str,
        thumbprint: str,
        method: str,
        url: str,
        now: float,
    ) -> Proof:
        jti, htm, htu, iat = (claims.get(name) for name in ("jti", "htm", "htu", "iat"))
        nonce, ath = claims.get("nonce"), claims.get("ath")
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_CLAIM_LENGTH:
            raise InvalidProof("bad_claims", "the proof's jti is missing or not a short string")
        if not isinstance(htm, str) or htm != method:
            raise InvalidProof("wrong_method", "the proof's htm is not this request's method")
        # `htu` as sent, letter for letter, is the usual case: normalised once, not twice.
        target = normalized(htu) if isinstance(htu, str) else None
        if target is None or (htu != url and target != normalized(url)):
            raise InvalidProof("wrong_url", "the proof's htu is not this request's URL")
        if (
            isinstance(iat, bool)
            or not isinstance(iat, int | float)
            or not math.isfinite(iat)
            or abs(iat) > 2**53
        ):
            raise InvalidProof("bad_claims", "the proof's iat is missing or not a NumericDate")
        for name, value in (("nonce", nonce), ("ath", ath)):
            if value is not None and (
                not isinstance(value, str) or not 0 < len(value) <= MAX_CLAIM_LENGTH
            ):
                raise InvalidProof("bad_claims", f"the proof's {name} is not a short string")
        fresh_by_nonce = False
        if self.nonces is not None and nonce is not None:
            if not self.nonces.valid(nonce, now):
                raise UseNonce(self.nonces.issue(now), "the DPoP nonce is not valid or expired")
            fresh_by_nonce = True
        elif self.require_nonce:
            assert self.nonces is not None
            raise UseNonce(self.nonces.issue(now))
        if not fresh_by_nonce and not now - self.max_age - self.leeway <= iat <= now + self.leeway:
            if self.nonces is not None:  # the client's clock may be off: a nonce proves freshness
                raise UseNonce(self.nonces.issue(now), "the DPoP proof's iat is out of range")
            raise InvalidProof("stale", "the DPoP proof's iat is out of range")
        return Proof(
            jkt=thumbprint,
            jti=jti,
            htm=htm,
            htu=htu if isinstance(htu, str) else "",
            iat=float(iat),
            alg=alg,
            nonce=nonce if isinstance(nonce, str) else None,
            ath=ath if isinstance(ath, str) else None,
        )
