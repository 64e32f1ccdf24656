"""Bearer access tokens on the auth server's own routes (RFC 6750): extract, verify, check the
role. The challenges and refusals are the same ones every verifier adapter uses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from tessera.service import AuthService
from tessera.tokens import AccessClaims, InvalidToken
from tessera.verify.fastapi import AuthHTTPError
from tessera.verify.refusal import Refusal, check_role, refusal_for, roles_of
from tessera.verify.refusal import bearer_token as parse_bearer
from tessera.verify.refusal import invalid_token as invalid_token_refusal


def http_error(refusal: Refusal) -> AuthHTTPError:
    return AuthHTTPError(refusal.status, refusal.error, refusal.description, refusal.headers)


def invalid_token(description: str) -> AuthHTTPError:
    return http_error(invalid_token_refusal(description))


def bearer_token(request: Request) -> str | None:
    """The bearer token, None when there is no Authorization header, 401 when it is not one."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    try:
        return parse_bearer(header)
    except Refusal as refusal:
        raise http_error(refusal) from None


async def verify_request(auth: AuthService, request: Request) -> AccessClaims:
    try:
        token = parse_bearer(request.headers.get("authorization"))
        return await auth.verify_access_token(token)
    except Refusal as refusal:
        raise http_error(refusal) from None
    except InvalidToken as exc:
        auth.metrics.rejected_tokens.labels(exc.reason).inc()
        raise http_error(refusal_for(exc)) from None


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
