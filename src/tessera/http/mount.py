"""`Tessera`: the auth service with its HTTP face — the two things an application needs from
it: `router` to mount (`/auth/*`, the JWKS, the OAuth endpoints and their metadata) and
`require()` to protect a route."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter

from tessera.http.bearer import require
from tessera.http.oauth import build_oauth_router
from tessera.http.routes import build_router
from tessera.service import AuthService
from tessera.tokens import AccessClaims


class Tessera(AuthService):
    """One auth service, mountable in a FastAPI or Starlette application. Build it once per
    process; `start()` (or the router's lifespan, or the first request) migrates the database
    and loads the key ring."""

    _router: APIRouter | None = None

    @property
    def router(self) -> APIRouter:
        """The auth routes (`{prefix}/…`, the JWKS, and the OAuth endpoints `/oauth/…` with
        their metadata) as a FastAPI `APIRouter`."""
        if self._router is None:
            router = build_router(self)
            router.include_router(build_oauth_router(self))
            self._router = router
        return self._router

    def require(self, role: str | None = None) -> Callable[..., Awaitable[AccessClaims]]:
        """A FastAPI dependency: the verified access-token claims, or 401/403."""
        return require(self, role)
