"""Access tokens on the auth server's own routes: extract (`Authorization: Bearer`, or `DPoP`
with a proof, RFC 9449 §7), verify, check the binding and the role. The challenges and
refusals are the same ones every verifier adapter uses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from tessera.dpop import PROOF_ALGORITHMS, InvalidProof
from tessera.service import AuthService
from tessera.tokens import AccessClaims, InvalidToken
from tessera.verify.asgi_url import proof_target
from tessera.verify.binding import check_binding, dpop_refusal, rejection_reason
from tessera.verify.credentials import Credential, credential_of, presented
from tessera.verify.fastapi import AuthHTTPError
from tessera.verify.refusal import Refusal, check_role, refusal_for, roles_of

PARSE_ANY = tuple(PROOF_ALGORITHMS)  # to parse either scheme, before knowing what is accepted


def http_error(refusal: Refusal) -> AuthHTTPError:
    return AuthHTTPError(refusal.status, refusal.error, refusal.description, refusal.headers)


def algorithms(auth: AuthService) -> tuple[str, ...] | None:
    """The DPoP proof algorithms accepted here; None when DPoP is off (the scheme is then
    refused like any other, and no challenge offers it)."""
    return auth.proofs.algorithms if auth.proofs is not None else None


def credential(auth: AuthService, request: Request) -> Credential:
    """The request's credential, or 401."""
    authorization, proofs = presented(request.scope["headers"])
    try:
        return credential_of(authorization, proofs, algorithms(auth))
    except Refusal as refusal:
        raise http_error(refusal) from None


def bearer_token(request: Request) -> str | None:
    """The access token (Bearer or DPoP scheme: `verify_request` judges which is accepted),
    None when there is no Authorization header, 401 when it is neither."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    try:
        return credential_of(header, (), PARSE_ANY).token
    except Refusal as refusal:
        raise http_error(refusal) from None


def proof_url(auth: AuthService, request: Request) -> str:
    """What a proof's `htu` must name: this request's URL under `TESSERA_PUBLIC_URL` when set,
    else as it came in."""
    return proof_target(request, auth.settings.public_url)


async def verify_request(auth: AuthService, request: Request) -> AccessClaims:
    given = credential(auth, request)
    try:
        claims = await auth.verify_access_token(given.token)
        if given.dpop or "cnf" in claims.extra:  # else an unbound token as Bearer: nothing to bind
            check_binding(
                claims,
                given,
                auth.proofs,
                method=request.method,
                url=proof_url(auth, request),
                now=auth.clock.now(),
            )
        return claims
    except (InvalidToken, InvalidProof) as exc:
        auth.metrics.rejected_tokens.labels(rejection_reason(exc)).inc()
        refusal = refusal_for(exc, algorithms(auth), dpop=dpop_refusal(exc, given))
        raise http_error(refusal) from None


def session_ended(auth: AuthService, request: Request) -> AuthHTTPError:
    """401 for a valid token whose session has ended, in the scheme it came with."""
    given = credential(auth, request)
    refusal = refusal_for(
        InvalidToken("ended", "session has ended"), algorithms(auth), dpop=given.dpop
    )
    return http_error(refusal)


def require(
    auth: AuthService, role: str | None = None
) -> Callable[[Request], Awaitable[AccessClaims]]:
    """Build the FastAPI dependency behind `Tessera.require`."""
    roles = roles_of(role)

    async def dependency(request: Request) -> AccessClaims:
        claims = await verify_request(auth, request)
        try:
            return check_role(claims, roles)
        except Refusal as refusal:
            raise http_error(refusal) from None

    return dependency
