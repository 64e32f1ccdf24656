"""The FastAPI dependency and the Starlette authentication backend, in their frameworks."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tessera import AccessClaims, install_error_handlers
from tessera.tokens import AccessTokenPolicy, SigningKey, generate_key
from tessera.verify import Verifier
from tessera.verify.fastapi import require
from tessera.verify.starlette import TesseraBackend

pytestmark = pytest.mark.anyio

POLICY = AccessTokenPolicy(issuer="https://auth.example", audience="reports")
# No credentials: both challenges (RFC 9449 §7.2), the DPoP one with the proof algorithms.
MISSING = 'Bearer realm="tessera", DPoP algs="ES256 ES384 EdDSA Ed25519 RS256 PS256"'


@pytest.fixture
def key() -> SigningKey:
    return generate_key("ES256")


@pytest.fixture
def verifier(key: SigningKey) -> Verifier:
    return Verifier.from_jwks(
        {"keys": [key.public_jwk()]}, issuer="https://auth.example", audience="reports"
    )


def token(key: SigningKey, role: str = "user", ttl: float = 600, now: float | None = None) -> str:
    minted, _ = POLICY.mint(key, sub="u-1", role=role, sid="s-1", now=now or time.time(), ttl=ttl)
    return minted


def fastapi_app(verifier: Verifier) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/reports")
    async def reports(claims: AccessClaims = Depends(require(verifier))) -> dict[str, str]:
        return {"sub": claims.sub}

    @app.get("/admin")
    async def admin(claims: AccessClaims = Depends(require(verifier, "admin"))) -> dict[str, str]:
        return {"role": claims.role}

    return app


def starlette_app(verifier: Verifier) -> Starlette:
    @requires("authenticated")
    async def reports(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.user.identity})

    @requires("admin")
    async def admin(request: Request) -> JSONResponse:
        return JSONResponse({"role": request.user.claims.role})

    async def public(request: Request) -> JSONResponse:
        return JSONResponse({"authenticated": request.user.is_authenticated})

    backend = TesseraBackend(verifier)
    return Starlette(
        routes=[Route("/reports", reports), Route("/admin", admin), Route("/public", public)],
        middleware=[
            Middleware(AuthenticationMiddleware, backend=backend, on_error=backend.on_error)
        ],
    )


def client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")  # type: ignore[arg-type]


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


async def test_fastapi_dependency(key: SigningKey, verifier: Verifier) -> None:
    async with client(fastapi_app(verifier)) as c:
        assert (await c.get("/reports", headers=bearer(token(key)))).json() == {"sub": "u-1"}
        missing = await c.get("/reports")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == MISSING
        assert missing.json()["error"] == "invalid_token"
        expired = await c.get("/reports", headers=bearer(token(key, now=time.time() - 3600)))
        assert expired.status_code == 401
        assert 'error="invalid_token"' in expired.headers["www-authenticate"]
        assert expired.json() == {
            "error": "invalid_token",
            "error_description": "token has expired",
        }
        forbidden = await c.get("/admin", headers=bearer(token(key)))
        assert forbidden.status_code == 403
        assert forbidden.json()["error"] == "insufficient_scope"
        assert 'error="insufficient_scope"' in forbidden.headers["www-authenticate"]
        assert (await c.get("/admin", headers=bearer(token(key, "admin")))).json() == {
            "role": "admin"
        }
        basic = await c.get("/reports", headers={"Authorization": "Basic dTpw"})
        assert basic.status_code == 401


async def test_starlette_backend(key: SigningKey, verifier: Verifier) -> None:
    async with client(starlette_app(verifier)) as c:
        assert (await c.get("/reports", headers=bearer(token(key)))).json() == {"sub": "u-1"}
        assert (await c.get("/public")).json() == {"authenticated": False}
        forged = token(key)[:-4] + "AAAA"
        bad = await c.get("/public", headers=bearer(forged))
        assert bad.status_code == 401
        assert bad.json()["error"] == "invalid_token"
        assert 'error="invalid_token"' in bad.headers["www-authenticate"]
        assert (await c.get("/admin", headers=bearer(token(key)))).status_code == 403
        assert (await c.get("/admin", headers=bearer(token(key, "admin")))).json() == {
            "role": "admin"
        }
