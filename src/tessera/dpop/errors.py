"""Why a DPoP proof was refused. Both map to RFC 9449's error codes; the HTTP layer decides the
status (400 at a token endpoint, 401 with a `WWW-Authenticate: DPoP` challenge elsewhere)."""

from __future__ import annotations


class InvalidProof(Exception):
    """`invalid_dpop_proof`: the proof is missing, malformed, or does not match the request,
    the key or the token. `reason` is a short code for metrics and audit events."""

    error = "invalid_dpop_proof"

    def __init__(self, reason: str, description: str | None = None) -> None:
        self.reason = reason
        self.description = description or reason.replace("_", " ")
        super().__init__(self.description)


class UseNonce(InvalidProof):
    """`use_dpop_nonce`: send the proof again with the nonce in `nonce` (given to the client in
    the `DPoP-Nonce` header)."""

    error = "use_dpop_nonce"

    def __init__(self, nonce: str, description: str = "a DPoP nonce is required") -> None:
        super().__init__("nonce_required", description)
        self.nonce = nonce
