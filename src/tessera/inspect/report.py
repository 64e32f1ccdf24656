"""What an examination found out about one token, and the exit status it means for
`tessera decode`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tessera.inspect.dpop import ProofFacts
from tessera.inspect.times import TimeClaim
from tessera.tokens import SigningKey

EXIT_VALID = 0
EXIT_TIME = 1
EXIT_INVALID = 2


@dataclass
class Report:
    """Everything known about one token (or DPoP proof)."""

    now: float
    leeway: float
    header: dict[str, Any] | None = None
    claims: dict[str, Any] | None = None
    kind: str = "token"  # token | dpop_proof
    bound_to: str | None = None  # a token's cnf.jkt
    proof: ProofFacts | None = None
    times: dict[str, TimeClaim] = field(default_factory=dict)
    lifetime: float | None = None
    # A token: valid | expired | not_yet_valid | no_expiry | malformed. A DPoP proof, by its
    # iat: fresh (within the window) | stale | not_yet_valid | malformed.
    status: str = "malformed"
    signature: str = "unchecked"  # verified | invalid | unchecked
    signature_detail: str = "not checked (no --key, --jwks or --secret-stdin)"
    key: SigningKey | None = None
    key_source: str | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def exit_code(self) -> int:
        """0 valid (or a fresh proof), 1 expired, not yet valid (or a stale proof), 2 malformed,
        a bad signature, or a proof holding a private key."""
        if self.status == "malformed" or self.signature == "invalid":
            return EXIT_INVALID
        if self.proof is not None and self.proof.private_key:
            return EXIT_INVALID
        if self.status in ("expired", "not_yet_valid", "stale"):
            return EXIT_TIME
        return EXIT_VALID

    def as_json(self) -> dict[str, Any]:
        times: dict[str, Any] = {"now": self.now, "leeway": self.leeway}
        times.update({name: claim.as_json() for name, claim in self.times.items()})
        times["lifetime"] = self.lifetime
        key = None
        if self.key is not None:
            key = {"kid": self.key.kid, "alg": self.key.alg, "source": self.key_source}
        return {
            "kind": self.kind,
            "header": self.header,
            "claims": self.claims,
            "bound_to": self.bound_to,
            "proof": self.proof.as_json() if self.proof is not None else None,
            "times": times,
            "status": self.status,
            "signature": self.signature,
            "signature_detail": self.signature_detail,
            "key": key,
            "warnings": self.warnings,
            "error": self.error,
        }
