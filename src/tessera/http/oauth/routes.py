"""The OAuth 2.0 endpoints: token (RFC 6749), revocation (RFC 7009), introspection (RFC 7662)
and the metadata that points at them (RFC 8414). They never read the refresh cookie, so a
cross-site form post to them carries nothing a caller did not already hold."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from tessera.http.contract import client_info, contract_route
from tessera.http.dpop import proven_key
from tessera.http.errors import NO_STORE
from tessera.http.models import ErrorBody
from tessera.http.oauth import metadata
from tessera.http.oauth.clients import identify_client
from tessera.http.oauth.errors import invalid_client, invalid_request, unauthorized_client
from tessera.http.oauth.forms import form_schema, read_form
from tessera.http.oauth.introspection import introspect
from tessera.http.oauth.models import (
    AuthorizationServerMetadata,
    IntrospectionResponse,
    OAuthTokenResponse,
)
from tessera.http.oauth.revocation import revoke
from tessera.http.oauth.token import grant
from tessera.limits import client_key
from tessera.service import AuthService

TOKEN_PARAMS = {
    "grant_type": {"type": "string", "enum": ["refresh_token", "password"]},
    "refresh_token": {"type": "string"},
    "username": {"type": "string"},
    "password": {"type": "string"},
    "client_id": {"type": "string"},
    "scope": {"type": "string"},
}
TOKEN_PARAMS_OF_HINTED = {
    "token": {"type": "string"},
    "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]},
    "client_id": {"type": "string"},
}
# 429 and 503 come from the code shared with /auth: rate limits, an unreachable database.
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 413, 429, 503)
}


def build_oauth_router(auth: AuthService) -> APIRouter:
    settings = auth.settings
    router = APIRouter(route_class=contract_route(auth), responses=ERRORS, tags=["oauth"])

    @router.post(
        "/oauth/token",
        name=metadata.TOKEN,
        responses={200: {"model": OAuthTokenResponse}},
        openapi_extra=form_schema(TOKEN_PARAMS, ["grant_type"]),
    )
    async def token(request: Request) -> Response:
        """RFC 6749 token endpoint: `refresh_token` grant (rotation, grace and reuse detection
        as `/auth/refresh`), and `password` when `TESSERA_OAUTH_PASSWORD_GRANT` is on."""
        params = await read_form(request, settings.max_body_bytes)
        client = identify_client(request, params, settings)
        return await grant(auth, params, client, client_info(request), request)

    @router.post(
        "/oauth/revoke",
        name=metadata.REVOKE,
        responses={200: {"description": "revoked, or nothing to revoke"}},
        openapi_extra=form_schema(TOKEN_PARAMS_OF_HINTED, ["token"]),
    )
    async def revocation(request: Request) -> Response:
        """RFC 7009: end the session of a refresh or access token. Unknown tokens answer 200."""
        params = await read_form(request, settings.max_body_bytes)
        client = identify_client(request, params, settings)
        if client.confidential:
            raise unauthorized_client("tokens are issued to the first-party client only")
        token = params.get("token")
        if token is None:
            raise invalid_request("token is missing")
        jkt = proven_key(auth, request, status=400)
        await revoke(auth, token, params.get("token_type_hint"), client_info(request), jkt)
        return Response(status_code=200, headers=NO_STORE)

    @router.post(
        "/oauth/introspect",
        name=metadata.INTROSPECT,
        response_model=IntrospectionResponse,
        openapi_extra=form_schema(TOKEN_PARAMS_OF_HINTED, ["token"]),
    )
    async def introspection(request: Request) -> Response:
        """RFC 7662, for the clients of `TESSERA_OAUTH_INTROSPECTION_CLIENTS` (HTTP Basic)."""
        params = await read_form(request, settings.max_body_bytes)
        ip = client_key(client_info(request).ip)
        # Wrong secrets count as failed logins do; counted before the check, given back after
        # a right one, so a burst of guesses cannot outrun the address's limit.
        await auth.limits.address_attempt(ip)
        client = identify_client(request, params, settings)
        if not client.confidential:
            raise invalid_client("introspection needs client credentials (HTTP Basic)")
        await auth.limits.address_succeeded(ip)
        token = params.get("token")
        if token is None:
            raise invalid_request("token is missing")
        answer = await introspect(auth, token, params.get("token_type_hint"))
        return JSONResponse(answer.model_dump(exclude_none=True), headers=NO_STORE)

    @router.get(metadata.PATH, name="oauth_metadata", response_model=AuthorizationServerMetadata)
    async def server_metadata(request: Request) -> Response:
        """RFC 8414 authorization server metadata."""
        headers = {"Cache-Control": f"public, max-age={int(settings.jwks_max_age)}"}
        if not settings.public_url:
            headers["Vary"] = "Host"  # the URLs are built from it
        document = metadata.build_metadata(request, settings)
        return JSONResponse(document.model_dump(exclude_none=True), headers=headers)

    return router
