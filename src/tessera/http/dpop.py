"""DPoP at the token endpoints (`/auth/login`, `/auth/refresh`, `/oauth/token`): the request's
proof checked against this request, and turned into the key thumbprint (`jkt`) the session is
bound to or must be refreshed by. The proof rules themselves are `tessera.dpop`'s."""

from __future__ import annotations

from starlette.requests import Request

from tessera.dpop import InvalidProof, UseNonce
from tessera.errors import InvalidDPoPProof, UseDPoPNonce
from tessera.http.bearer import proof_url
from tessera.service import AuthService

HEADER = "dpop"
NONCE_HEADER = "DPoP-Nonce"


def proof_of(request: Request) -> str | None:
    """The request's one `DPoP` header (RFC 9449 §4.3: more than one is refused)."""
    values = request.headers.getlist(HEADER)
    if len(values) > 1:
        raise InvalidDPoPProof("more than one DPoP header", reason="malformed")
    return values[0] if values else None


def proven_key(auth: AuthService, request: Request, *, status: int) -> str | None:
    """The thumbprint of the key that signed this token request's DPoP proof; None without a
    proof (or with DPoP off: the header is then ignored). A bad proof is `InvalidDPoPProof`
    with `status`; a missing or stale nonce is `UseDPoPNonce`."""
    checker = auth.proofs
    if checker is None:
        return None
    proof = proof_of(request)
    if proof is None:
        if auth.settings.dpop == "required":
            raise InvalidDPoPProof("a DPoP proof is required", reason="missing", status=status)
        return None
    try:
        checked = checker.check(
            proof,
            method=request.method,
            url=proof_url(auth, request),
            now=auth.clock.now(),
        )
    except UseNonce as exc:
        raise UseDPoPNonce(exc.nonce, exc.description) from None
    except InvalidProof as exc:
        raise InvalidDPoPProof(exc.description, reason=exc.reason, status=status) from None
    return checked.jkt


def nonce_headers(auth: AuthService) -> dict[str, str]:
    """A fresh nonce for the client's next proof, where nonces are required."""
    checker = auth.proofs
    if checker is None or not checker.require_nonce:
        return {}
    nonce = checker.fresh_nonce(auth.clock.now())
    return {NONCE_HEADER: nonce} if nonce else {}
