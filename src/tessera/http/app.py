"""The standalone server's ASGI app: the auth router plus health, metrics and a demo API."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import Depends, FastAPI
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import HTMLResponse, JSONResponse, Response

from tessera.http.direct import DirectRoutes
from tessera.http.docs import install_api_docs
from tessera.http.errors import database_down, install_error_handlers
from tessera.http.middleware import (
    BodyLimitMiddleware,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
)
from tessera.http.models import Me
from tessera.http.mount import Tessera
from tessera.http.outages import report_for
from tessera.http.transport import CSRF_HEADER
from tessera.maintenance import run_periodically
from tessera.metrics import CONTENT_TYPE
from tessera.tokens import AccessClaims
from tessera.web import ASSET_TYPES, asset, decoder_page, demo_page

DEMO_ASSETS = ("demo.js", "demo.css")
REVALIDATE = {"Cache-Control": "no-cache"}


def page(html: bytes, csp: str) -> Response:
    return HTMLResponse(html, headers={"Content-Security-Policy": csp, **REVALIDATE})


def without_fastapi_telemetry() -> dict[str, Any]:
    """FastAPI's own OpenTelemetry hooks (newer releases) look up the global providers on every
    request, a few percent of a refresh; the standalone server reports through /metrics and
    its logs instead. Older releases have no such hooks (and no such argument)."""
    if "telemetry" not in inspect.signature(FastAPI).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


def create_app(auth: Tessera) -> FastAPI:
    """The app `tessera serve` runs."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with auth.lifespan():
            upkeep = asyncio.create_task(run_periodically(auth), name="tessera-maintenance")
            try:
                yield
            finally:
                upkeep.cancel()
                with suppress(asyncio.CancelledError):
                    await upkeep

    app = FastAPI(
        title="Tessera",
        version="1",
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url=None,  # FastAPI's pages load scripts from a CDN: see tessera.http.docs
        redoc_url=None,
        **without_fastapi_telemetry(),
    )
    install_error_handlers(app, auth.metrics)
    install_api_docs(app, auth.settings.api_docs)

    @app.get("/api/me", response_model=Me, tags=["demo"])
    async def me(claims: AccessClaims = Depends(auth.require())) -> Me:
        """A protected resource: who the access token says you are."""
        return Me(
            sub=claims.sub, role=claims.role, sid=claims.sid, exp=int(claims.exp), name=claims.name
        )

    @app.get("/", include_in_schema=False)
    async def demo() -> Response:
        html, csp = demo_page(auth.settings.prefix)
        return page(html, csp)

    @app.get("/decoder", include_in_schema=False)
    async def decoder() -> Response:
        html, csp = decoder_page()
        return page(html, csp)

    @app.get("/assets/{name}", include_in_schema=False)
    async def assets(name: str) -> Response:
        if name not in DEMO_ASSETS:
            raise HTTPException(404, "no such asset")
        return Response(asset(name), media_type=ASSET_TYPES[name], headers=REVALIDATE)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> Response:
        """Readiness: the database answers, and takes writes."""
        try:
            await auth.store.ping()
        except Exception as exc:  # noqa: BLE001 - any database failure means "not ready"
            return database_down(exc, report_for(auth.metrics))
        return JSONResponse({"status": "ready"})

    # Load balancers often probe with HEAD.
    app.add_api_route("/healthz", healthz, methods=["HEAD"], include_in_schema=False)
    app.add_api_route("/readyz", readyz, methods=["HEAD"], include_in_schema=False)

    @app.get("/metrics", tags=["operations"])
    async def metrics() -> Response:
        """Prometheus exposition."""
        return Response(auth.metrics.render(), media_type=CONTENT_TYPE)

    # Last: FastAPI tries an included router's routes through a context per route (0.123+),
    # dearer than the app's own routes, which are tried first and so skip that walk. The
    # auth routes' hottest, the refresh, skips every walk (`DirectRoutes`).
    app.include_router(auth.router)

    app.add_middleware(DirectRoutes, routes=auth.router.routes)
    app.add_middleware(SecurityHeadersMiddleware)
    if auth.settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=auth.settings.allowed_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["authorization", "content-type", "dpop", CSRF_HEADER],
            # What a DPoP client reads from a refusal: the challenge and the nonce to use.
            expose_headers=["WWW-Authenticate", "DPoP-Nonce"],
        )
    app.add_middleware(BodyLimitMiddleware, limit=auth.settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=auth.metrics)
    return app
