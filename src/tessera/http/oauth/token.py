"""The token endpoint's grants (RFC 6749 §4.3, §6). Both run the same code as `/auth/login`
and `/auth/refresh` — rate limits, audit, metrics, rotation, grace, reuse detection — and only
translate the outcome into RFC 6749 terms."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from tessera.errors import InvalidCredentials, InvalidDPoPProof, InvalidGrant
from tessera.http.dpop import nonce_headers, proven_key
from tessera.http.errors import NO_STORE
from tessera.http.oauth.clients import Client
from tessera.http.oauth.errors import (
    OAuthError,
    invalid_grant,
    invalid_request,
    unauthorized_client,
)
from tessera.http.oauth.models import OAuthTokenResponse
from tessera.service import AuthService
from tessera.sessions import ClientInfo, Issued
from tessera.users.passwords import MAX_PASSWORD_CHARS

MAX_USERNAME = 150


async def grant(
    auth: AuthService,
    params: dict[str, str],
    client: Client,
    info: ClientInfo,
    request: Request,
) -> JSONResponse:
    """Run the requested grant and answer with an RFC 6749 §5.1 token response (a DPoP proof
    binds a new session, and is required to refresh a bound one: RFC 9449 §5)."""
    if client.confidential:
        raise unauthorized_client("this client may only introspect tokens")
    grant_type = params.get("grant_type")
    if grant_type is None:
        raise invalid_request("grant_type is missing")
    if "scope" in params:
        raise OAuthError("invalid_scope", "Tessera issues no scopes; roles travel in the token")
    if grant_type == "refresh_token":
        issued = await _refresh(auth, params, info, proven_key(auth, request, status=400))
    elif grant_type == "password" and auth.settings.oauth_password_grant:
        issued = await _password(auth, params, info, proven_key(auth, request, status=400))
    else:
        raise OAuthError(
            "unsupported_grant_type", f"grant_type {grant_type[:40]!r} is not supported"
        )
    return token_response(auth, issued)


async def _refresh(
    auth: AuthService, params: dict[str, str], info: ClientInfo, jkt: str | None
) -> Issued:
    token = params.get("refresh_token")
    if token is None:
        raise invalid_request("refresh_token is missing")
    try:
        return await auth.refresh(token, info, jkt)
    except InvalidDPoPProof as exc:  # RFC 9449 §5: a token endpoint answers 400
        raise InvalidDPoPProof(exc.description, reason=exc.reason, status=400) from None
    except InvalidGrant as exc:
        raise invalid_grant(exc.description) from None


async def _password(
    auth: AuthService, params: dict[str, str], info: ClientInfo, jkt: str | None
) -> Issued:
    username, password = params.get("username"), params.get("password")
    if username is None or password is None:
        raise invalid_request("username and password are required")
    if len(username) > MAX_USERNAME or len(password) > MAX_PASSWORD_CHARS:
        raise invalid_request("username or password is too long")
    try:
        return await auth.login(username, password, info, jkt)
    except InvalidCredentials as exc:
        raise invalid_grant(exc.description) from None


def token_response(auth: AuthService, issued: Issued) -> JSONResponse:
    token, claims = auth.mint_access_token(issued.session)
    body = OAuthTokenResponse(
        access_token=token,
        token_type="DPoP" if claims.jkt else "Bearer",
        expires_in=max(0, int(claims.exp - auth.clock.now())),
        refresh_token=issued.refresh_token,
    )
    return JSONResponse(body.model_dump(), headers={**NO_STORE, **nonce_headers(auth)})
