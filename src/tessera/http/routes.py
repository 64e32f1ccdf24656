"""The auth routes of the contract: login, refresh, logout, sessions, and the JWKS."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from tessera.errors import InvalidGrant, NotFound, TesseraError
from tessera.http.bearer import bearer_token, invalid_token, verify_request
from tessera.http.errors import (
    NO_STORE,
    database_down,
    from_http_exception,
    from_tessera_error,
    from_validation_error,
    is_database_down,
)
from tessera.http.grants import password_login, rotate_refresh_token
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
from tessera.revocations.waiters import WaiterLimit
from tessera.sessions import ClientInfo, Issued
from tessera.settings import MAX_REVOCATION_WAIT
from tessera.tokens import AccessClaims
from tessera.web import ASSET_TYPES, asset, client_modules

if TYPE_CHECKING:
    from tessera.service import Tessera

MAX_USER_AGENT = 512
# A long-poll past the waiter caps is answered at once: poll again later, on a new connection.
WAITERS_FULL = {"Retry-After": "5", "Connection": "close"}


class ContractRoute(APIRoute):
    """Answers every error of these routes in the contract's JSON shape, even when the host
    application has not installed Tessera's exception handlers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def contract_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except TesseraError as exc:
                return from_tessera_error(exc)
            except RequestValidationError as exc:
                return from_validation_error(exc)
            except HTTPException as exc:
                return from_http_exception(exc)
            except Exception as exc:
                if is_database_down(exc):
                    return database_down(exc)
                raise

        return contract_handler


def client_info(request: Request) -> ClientInfo:
    """The client's address as the ASGI server reports it: behind a proxy, `tessera serve`
    (with TESSERA_TRUST_FORWARDED) lets uvicorn take it from the trusted hop of
    X-Forwarded-For; the leftmost entry is whatever the client wrote, so it is never used."""
    ip = request.client.host if request.client else None
    agent = request.headers.get("user-agent")
    return ClientInfo(ip=ip, user_agent=agent[:MAX_USER_AGENT] if agent else None)


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 413, 429, 503)
}


def build_router(auth: Tessera) -> APIRouter:
    settings = auth.settings
    prefix = settings.prefix
    router = APIRouter(route_class=ContractRoute, lifespan=auth.lifespan, responses=ERRORS)

    def token_response(issued: Issued, transport: str) -> JSONResponse:
        token, claims = auth.mint_access_token(issued.session)
        now = auth.clock.now()
        body = TokenResponse(
            access_token=token,
            expires_in=max(0, int(claims.exp - now)),
            expires_at=int(claims.exp),
            session_id=issued.session.id,
        )
        if transport == "body":
            body.refresh_token = issued.refresh_token
            body.refresh_expires_at = int(issued.refresh_expires_at)
        response = JSONResponse(body.model_dump(exclude_none=True), headers=NO_STORE)
        if transport == "cookie":
            set_refresh_cookie(
                response, settings, issued.refresh_token, issued.refresh_expires_at - now
            )
        return response

    async def live_claims(request: Request) -> AccessClaims:
        """A valid access token whose session has not been revoked (checked in the store)."""
        claims = await verify_request(auth, request)
        if not await auth.sessions.is_active(claims.sid):
            raise invalid_token("session has ended")
        return claims

    @router.post(f"{prefix}/login", response_model=TokenResponse, tags=["auth"])
    async def login(body: LoginRequest, request: Request) -> Response:
        """Check credentials and open a session."""
        await auth.ready()
        issued = await password_login(auth, body.username, body.password, client_info(request))
        return token_response(issued, body.transport)

    @router.post(f"{prefix}/refresh", response_model=TokenResponse, tags=["auth"])
    async def refresh(
        request: Request,
        body: RefreshRequest | None = Body(default=None),
    ) -> Response:
        """Rotate the refresh token (cookie, or `refresh_token` in the body)."""
        await auth.ready()
        cookie = refresh_cookie(request)
        if body is not None:
            token, transport = body.refresh_token, "body"
        elif cookie is not None:
            check_csrf(request, settings)
            token, transport = cookie, "cookie"
        else:
            raise InvalidGrant("no refresh token", reason="missing")
        try:
            issued = await rotate_refresh_token(auth, token, client_info(request))
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
        """Revoke the caller's session. Idempotent."""
        await auth.ready()
        client = client_info(request)
        cookie = refresh_cookie(request)
        response = Response(status_code=204, headers=NO_STORE)
        revoked = False
        if body is not None and body.refresh_token:
            revoked = await auth.sessions.logout(body.refresh_token, client) is not None
        else:
            if cookie is not None:
                check_csrf(request, settings)
                revoked = await auth.sessions.logout(cookie, client) is not None
            elif bearer_token(request) is not None:
                claims = await verify_request(auth, request)
                revoked = await auth.sessions.revoke(claims.sid, "logout", client, claims.sub)
            clear_refresh_cookie(response, settings)
        if revoked:
            auth.metrics.revocations.labels("logout").inc()
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
        if not await auth.sessions.revoke(session_id, "revoked", client, subject=claims.sub):
            raise NotFound("no such session")
        auth.metrics.revocations.labels("revoked").inc()
        return Response(status_code=204)

    @router.delete(f"{prefix}/sessions", status_code=204, tags=["sessions"])
    async def revoke_all_sessions(
        request: Request,
        claims: AccessClaims = Depends(live_claims),
    ) -> Response:
        """Log out everywhere: revoke every session of the caller."""
        client = client_info(request)
        count = await auth.sessions.revoke_all(claims.sub, "logout_everywhere", client)
        auth.metrics.revocations.labels("logout_everywhere").inc(count)
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
        await auth.ready()
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
        await auth.ready()
        max_age = int(settings.jwks_max_age)
        return JSONResponse(
            auth.keys.jwks(), headers={"Cache-Control": f"public, max-age={max_age}"}
        )

    return router
