"""Mounting Tessera inside an application, exactly as the README shows."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.testclient import TestClient

from tessera import AccessClaims, ManualClock, Principal, Tessera, install_error_handlers
from tests.conftest import PASSWORD, make_settings


def build_app(auth: Tessera) -> FastAPI:
    app = FastAPI()
    app.include_router(auth.router)

    @app.get("/reports")
    async def reports(claims: AccessClaims = Depends(auth.require(role="admin"))) -> dict[str, str]:
        return {"for": claims.sub}

    @app.get("/profile")
    async def profile(claims: AccessClaims = Depends(auth.require())) -> dict[str, str | None]:
        return {"role": claims.role, "name": claims.name}

    return app


def test_include_router_and_require_role(tmp_path: Path) -> None:
    auth = Tessera(make_settings(tmp_path / "d", prefix="/api/auth"), clock=ManualClock())
    app = build_app(auth)
    with TestClient(app, base_url="https://app.test") as client:  # runs the router's lifespan
        client.portal.call(auth.users.add, "boss", PASSWORD, "admin")  # type: ignore[union-attr]
        client.portal.call(auth.users.add, "clerk", PASSWORD)  # type: ignore[union-attr]

        boss = client.post("/api/auth/login", json={"username": "boss", "password": PASSWORD})
        assert boss.status_code == 200
        cookie = boss.headers["set-cookie"]
        assert "Path=/api/auth" in cookie
        token = boss.json()["access_token"]
        claims = client.portal.call(auth.verify_access_token, token)  # type: ignore[union-attr]
        reports = client.get("/reports", headers={"Authorization": f"Bearer {token}"})
        assert reports.json() == {"for": claims.sub}

        clerk = client.post("/api/auth/login", json={"username": "clerk", "password": PASSWORD})
        clerk_token = clerk.json()["access_token"]
        forbidden = client.get("/reports", headers={"Authorization": f"Bearer {clerk_token}"})
        assert forbidden.status_code == 403
        assert 'error="insufficient_scope"' in forbidden.headers["www-authenticate"]
        assert client.get(
            "/profile", headers={"Authorization": f"Bearer {clerk_token}"}
        ).json() == {"role": "user", "name": "clerk"}
        missing = client.get("/reports")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")

        # The router's own errors keep the contract's shape without any app-level handler.
        bad = client.post("/api/auth/login", json={"username": "boss"})
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"
        wrong = client.post("/api/auth/login", json={"username": "boss", "password": "nope"})
        assert wrong.json()["error"] == "invalid_credentials"
        refresh = client.post("/api/auth/refresh", headers={"X-Tessera-CSRF": "1"})
        assert refresh.status_code == 200
        assert client.get("/.well-known/jwks.json").status_code == 200


class AppUsers:
    """An application's own user store, plugged in as the authenticator."""

    async def authenticate(self, username: str, password: str) -> Principal | None:
        if (username, password) == ("ext-user", "their-own-password"):
            return Principal(subject="ext-42", role="editor", name="Ext User")
        return None


def test_pluggable_authenticator(tmp_path: Path) -> None:
    auth = Tessera(make_settings(tmp_path / "d"), authenticator=AppUsers())
    app = build_app(auth)
    with TestClient(app, base_url="https://app.test") as client:
        ok = client.post(
            "/auth/login", json={"username": "ext-user", "password": "their-own-password"}
        )
        assert ok.status_code == 200
        token = ok.json()["access_token"]
        assert client.get("/profile", headers={"Authorization": f"Bearer {token}"}).json() == {
            "role": "editor",
            "name": "Ext User",
        }
        # The name is the session's: every refreshed token carries it too.
        refreshed = client.post("/auth/refresh", headers={"X-Tessera-CSRF": "1"})
        token = refreshed.json()["access_token"]
        assert client.get("/profile", headers={"Authorization": f"Bearer {token}"}).json() == {
            "role": "editor",
            "name": "Ext User",
        }
        refused = client.post("/auth/login", json={"username": "ext-user", "password": "x"})
        assert refused.status_code == 401


def test_a_host_routers_dependencies_guard_the_hot_routes_too(tmp_path: Path) -> None:
    """/auth/refresh skips FastAPI's request handling (http/contract.py): never the
    dependencies a host application puts on Tessera's router."""
    seen: list[str] = []

    def gate(request: Request) -> None:
        seen.append(request.url.path)
        raise HTTPException(403, "closed here")

    for mount in ("include_router", "nested router"):
        auth = Tessera(make_settings(tmp_path / mount.replace(" ", "-")))
        app = FastAPI()
        if mount == "include_router":
            app.include_router(auth.router, dependencies=[Depends(gate)])
        else:
            outer = APIRouter(dependencies=[Depends(gate)])
            outer.include_router(auth.router)
            app.include_router(outer)
        install_error_handlers(app)
        with TestClient(app, base_url="https://app.test") as client:
            refused = client.post("/auth/refresh", json={"refresh_token": "x" * 43})
            assert refused.status_code == 403, mount
    assert seen == ["/auth/refresh", "/auth/refresh"]
