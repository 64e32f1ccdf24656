"""The auth routes of the contract: login, refresh, logout, sessions, and the JWKS."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from starlette.responses import JSONResponse, Response

from tessera.errors import InvalidGrant, InvalidRequest, NotFound
from tessera.http.bearer import bearer_token, session_ended, verify_request
from tessera.http.bodies import json_body, parse_body
from tessera.http.contract import client_info, contract_route
from tessera.http.dpop import nonce_headers, proven_key
from tessera.http.errors import (
    NO_STORE,
    from_tessera_error,
)
from tessera.http.models import (
    ErrorBody,
    LoginRequest,
    LogoutRequest,
    RefreshRequest,
    RevocationPage,
    RevokedSession,
    SessionInfo,
    SessionList,
    TokenResponse,
)
from tessera.http.transport import (
    check_csrf,
    clear_refresh_cookie,
    refresh_cookie,
    set_refresh_cookie,
)
from tessera.revocations.revoked import MAX_REVOCATION_WAIT
from tessera.revocations.waiters import WaiterLimit
from tessera.service import AuthService
from tessera.sessions import Issued
from tessera.sessions.devices import describe_device
from tessera.tokens import AccessClaims
from tessera.tokens.strict_json import dumps_compact
from tessera.web import ASSET_TYPES, asset, client_modules

# A long-poll past the waiter caps is answered at once: poll again later, on a new connection.
WAITERS_FULL = {"Retry-After": "5", "Connection": "close"}


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 413, 429, 503)
}


def build_router(auth: AuthService) -> APIRouter:
    settings = auth.settings
    prefix = settings.prefix
    router = APIRouter(route_class=contract_route(auth), lifespan=auth.lifespan, responses=ERRORS)

    def token_response(issued: Issued, transport: str) -> Response:
        """The contract's token answer (`TokenResponse`, as the OpenAPI schema says), built
        as a plain dict: it is every login's and every refresh's, and a model's validation
        and dump cost more than the rest of the answer."""
        token, claims = auth.mint_access_token(issued.session)
        now = auth.clock.now()
        body: dict[str, object] = {
            "access_token": token,
            "token_type": "DPoP" if claims.jkt else "Bearer",
            "expires_in": max(0, int(claims.exp - now)),
            "expires_at": int(claims.exp),
            "session_id": issued.session.id,
        }
        if transport == "body":
            body["refresh_token"] = issued.refresh_token
            body["refresh_expires_at"] = int(issued.refresh_expires_at)
        response = Response(
            dumps_compact(body),
            media_type="application/json",
            headers={**NO_STORE, **nonce_headers(auth)},
        )
        if transport == "cookie":
            set_refresh_cookie(
                response, settings, issued.refresh_token, issued.refresh_expires_at - now
            )
        return response

    async def live_claims(request: Request) -> AccessClaims:
        """A valid access token whose session has not been revoked (checked in the store)."""
        claims = await verify_request(auth, request)
        if not await auth.sessions.is_active(claims.sid):
            raise session_ended(auth, request)
        return claims

    @router.post(f"{prefix}/login", response_model=TokenResponse, tags=["auth"])
    async def login(body: LoginRequest, request: Request) -> Response:
        """Check credentials and open a session (bound to the key of a DPoP proof, if sent)."""
        jkt = proven_key(auth, request, status=400)
        issued = await auth.login(body.username, body.password, client_info(request), jkt)
        return token_response(issued, body.transport)

    @router.post(
        f"{prefix}/refresh",
        response_model=TokenResponse,
        tags=["auth"],
        openapi_extra=json_body(RefreshRequest, required=False),
    )
    async def refresh(request: Request) -> Response:
        """Rotate the refresh token (cookie, or `refresh_token` in the body); a session bound
        to a DPoP key only with a proof by that key."""
        body = await parse_body(request, RefreshRequest)
        cookie = refresh_cookie(request)
        if body is not None:
            token, transport = body.refresh_token, "body"
        elif cookie is not None:
            check_csrf(request, settings)
            token, transport = cookie, "cookie"
        else:
            raise InvalidGrant("no refresh token", reason="missing")
        jkt = proven_key(auth, request, status=401)
        try:
            issued = await auth.refresh(token, client_info(request), jkt)
        except InvalidGrant as exc:
            response = from_tessera_error(exc)
            if transport == "cookie":
                clear_refresh_cookie(response, settings)
            return response
        return token_response(issued, transport)

    @router.post(f"{prefix}/logout", status_code=204, tags=["auth"])
    async def logout(
        request: Request,
        body: LogoutRequest | None = Body(default=None),
    ) -> Response:
        """Revoke the caller's session. Idempotent. A DPoP-bound session's refresh token only
        with a proof by its key: a thief can no more end the session than use it."""
        client = client_info(request)
        cookie = refresh_cookie(request)
        response = Response(status_code=204, headers=NO_STORE)
        if body is not None and body.refresh_token:
            jkt = proven_key(auth, request, status=401)
            await auth.logout.with_refresh_token(body.refresh_token, client, jkt)
        else:
            if cookie is not None:
                check_csrf(request, settings)
                jkt = proven_key(auth, request, status=401)
                await auth.logout.with_refresh_token(cookie, client, jkt)
            elif bearer_token(request) is not None:
                await auth.logout.with_access_token(await verify_request(auth, request), client)
            clear_refresh_cookie(response, settings)
        return response

    @router.get(f"{prefix}/sessions", response_model=SessionList, tags=["sessions"])
    async def list_sessions(claims: AccessClaims = Depends(live_claims)) -> SessionList:
        """The caller's active sessions, newest first."""
        sessions = await auth.sessions.active(claims.sub)
        return SessionList(
            sessions=[
                SessionInfo(
                    id=s.id,
                    created_at=s.created_at,
                    last_used_at=s.last_used_at,
                    expires_at=s.expires_at,
                    refresh_expires_at=auth.sessions.refresh_expires_at(s),
                    ip=s.ip,
                    user_agent=s.user_agent,
                    device=describe_device(s.user_agent),
                    current=s.id == claims.sid,
                )
                for s in sessions
            ]
        )

    @router.delete(f"{prefix}/sessions/{{session_id}}", status_code=204, tags=["sessions"])
    async def revoke_session(
        session_id: str,
        request: Request,
        claims: AccessClaims = Depends(live_claims),
    ) -> Response:
        """Revoke one of the caller's sessions; someone else's is 404, as an unknown one."""
        client = client_info(request)
        if not await auth.revoke.session(session_id, "revoked", client, subject=claims.sub):
            raise NotFound("no such session")
        return Response(status_code=204)

    @router.delete(f"{prefix}/sessions", status_code=204, tags=["sessions"])
    async def revoke_all_sessions(
        request: Request,
        claims: AccessClaims = Depends(live_claims),
        except_: str | None = Query(
            default=None,
            alias="except",
            description="`current`: keep the session of the token that asks (sign out the "
            "other devices)",
        ),
    ) -> Response:
        """Log out everywhere: revoke every session of the caller, or all but its own."""
        client = client_info(request)
        if except_ is None:
            await auth.revoke.all_of(claims.sub, "logout_everywhere", client)
        elif except_ == "current":
            await auth.revoke.all_of(claims.sub, "signed_out_elsewhere", client, keep=claims.sid)
        else:
            raise InvalidRequest("`except` can only be `current`")
        return Response(status_code=204)

    waiters = WaiterLimit(
        settings.revocation_max_waiters, settings.revocation_max_waiters_per_client
    )

    @router.get(f"{prefix}/revocations", response_model=RevocationPage, tags=["revocations"])
    async def revocations(
        request: Request,
        since: int = Query(default=0, ge=0, le=2**53, description="cursor of the last page"),
        wait: float = Query(
            default=0.0,
            ge=0,
            le=MAX_REVOCATION_WAIT,
            allow_inf_nan=False,
            description="hold the answer up to this many seconds until there is a revocation",
        ),
    ) -> Response:
        """Sessions revoked since `since` whose access tokens may still be alive: what
        verifiers in other services follow to refuse them at once (a long-poll with `wait`)."""
        wait = min(wait, settings.revocation_max_wait)
        with waiters.hold(client_info(request).ip, wait) as allowed:
            page = await auth.revocations.page(since, allowed)
        headers = NO_STORE if allowed == wait else {**NO_STORE, **WAITERS_FULL}
        body = RevocationPage(
            revocations=[
                RevokedSession(sid=r.session_id, not_after=r.not_after) for r in page.revocations
            ],
            cursor=page.cursor,
            more=page.more,
        )
        return JSONResponse(body.model_dump(), headers=headers)

    @router.get(f"{prefix}/tessera.js", include_in_schema=False)
    async def browser_client() -> Response:
        """The browser client as an ES module."""
        return Response(
            asset("tessera.js"),
            media_type=ASSET_TYPES["tessera.js"],
            headers={"Cache-Control": "no-cache"},
        )

    @router.get(f"{prefix}/tessera/{{name}}", include_in_schema=False)
    async def browser_client_module(name: str) -> Response:
        """A module the browser client imports (`{prefix}/tessera/state.js`, …)."""
        if name not in client_modules():
            raise NotFound("no such module")
        return Response(
            asset(f"tessera/{name}"),
            media_type=ASSET_TYPES["tessera.js"],
            headers={"Cache-Control": "no-cache"},
        )

    @router.get("/.well-known/jwks.json", tags=["keys"])
    async def jwks() -> Response:
        """Public signing keys, for anyone verifying access tokens."""
        max_age = int(settings.jwks_max_age)
        return JSONResponse(
            auth.keys.jwks(), headers={"Cache-Control": f"public, max-age={max_age}"}
        )

    return router
