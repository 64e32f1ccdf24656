"""The errors Tessera answers with: one code, one status, one description each.

Every error a client can cause is a `TesseraError`; the HTTP layer turns it into the
contract's JSON shape `{"error": CODE, "error_description": TEXT}`.
"""

from __future__ import annotations


class TesseraError(Exception):
    """A refusal with a machine-readable code and an HTTP status."""

    code = "server_error"
    status = 500

    def __init__(self, description: str = "", *, headers: dict[str, str] | None = None) -> None:
        super().__init__(description or self.code)
        self.description = description or self.code.replace("_", " ")
        self.headers = headers or {}


class InvalidRequest(TesseraError):
    code = "invalid_request"
    status = 400


class InvalidCredentials(TesseraError):
    code = "invalid_credentials"
    status = 401


class InvalidGrant(TesseraError):
    """The refresh token is unknown, expired, revoked or reused. `reason` is for metrics and
    logs (clients see one code)."""

    code = "invalid_grant"
    status = 401

    def __init__(self, description: str = "", *, reason: str = "invalid") -> None:
        super().__init__(description)
        self.reason = reason


class RefreshTokenReused(InvalidGrant):
    """An already-rotated refresh token came back after the grace window: the session is dead."""

    def __init__(self, description: str = "") -> None:
        super().__init__(description, reason="reuse")


class InvalidDPoPProof(TesseraError):
    """RFC 9449's `invalid_dpop_proof`: a proof missing, invalid, or signed by another key than
    the one the session is bound to. 401 on Tessera's own routes; `status=400` at
    `/oauth/token`, as RFC 9449 §5 asks of a token endpoint. `reason` is for metrics and the
    audit trail."""

    code = "invalid_dpop_proof"
    status = 401

    def __init__(
        self,
        description: str = "",
        *,
        reason: str = "invalid",
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description, headers=headers)
        self.reason = reason
        if status is not None:
            self.status = status


class UseDPoPNonce(TesseraError):
    """RFC 9449 §8's `use_dpop_nonce`: send the proof again with the nonce in `DPoP-Nonce`."""

    code = "use_dpop_nonce"
    status = 400

    def __init__(self, nonce: str, description: str = "a DPoP nonce is required") -> None:
        super().__init__(description, headers={"DPoP-Nonce": nonce})
        self.nonce = nonce


class CsrfFailed(TesseraError):
    code = "csrf_failed"
    status = 403


class NotFound(TesseraError):
    code = "not_found"
    status = 404


class RateLimited(TesseraError):
    code = "rate_limited"
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "too many attempts; try again later", headers={"Retry-After": str(retry_after)}
        )
        self.retry_after = retry_after


class Unavailable(TesseraError):
    """A 503 the client may retry. `kind` names the cause for metrics and logs (the database's
    outages name theirs: `tessera.store.faults.Kind`)."""

    code = "unavailable"
    status = 503

    def __init__(
        self,
        description: str = "service unavailable",
        retry_after: int = 5,
        kind: str = "overloaded",
    ) -> None:
        super().__init__(description, headers={"Retry-After": str(retry_after)})
        self.kind = kind


class ConfigurationError(Exception):
    """Settings that cannot work together; raised at start-up, never per request."""
