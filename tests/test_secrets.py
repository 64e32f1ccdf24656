"""Secrets never reach a log line, an error body or a URL; at rest they are hashed or sealed."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tessera import Tessera, create_app
from tests.conftest import PASSWORD, make_settings
from tests.helpers import CSRF, bearer, served

pytestmark = pytest.mark.anyio
SECRET = "configured-secret-value-0123456789"


async def test_no_secret_in_any_log_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings = make_settings(tmp_path / "d", secret=SECRET)
    async with served(settings) as (service, client):
        await service.users.add("alice", PASSWORD)
        body = {"username": "alice", "password": PASSWORD, "transport": "body"}
        tokens = (await client.post("/auth/login", json=body)).json()
        await client.post("/auth/login", json={**body, "password": PASSWORD + "-wrong"})
        await client.post("/auth/login", json={**body, "username": PASSWORD})  # wrong field
        cookie_login = await client.post("/auth/login", json={**body, "transport": "cookie"})
        rotated = (
            await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        ).json()
        await client.post("/auth/refresh", headers=CSRF)
        await client.get("/api/me", headers=bearer(rotated["access_token"]))
        await client.get("/api/me", headers=bearer(rotated["access_token"] + "x"))
        await client.get("/auth/sessions", headers=bearer(rotated["access_token"]))
        await client.get("/.well-known/jwks.json")
        await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"] + "x"})
        service.clock.advance(11)  # type: ignore[attr-defined]
        reuse = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert reuse.status_code == 401  # reuse detected and logged
        await client.post("/auth/logout", headers=bearer(rotated["access_token"]))
        await client.delete("/auth/sessions", headers=bearer(tokens["access_token"]))
        private_d = service.keys.signing_key().key.as_dict(private=True)["d"]
        secrets = [
            PASSWORD,
            SECRET,
            private_d,
            tokens["refresh_token"],
            tokens["access_token"],
            rotated["refresh_token"],
            rotated["access_token"],
            cookie_login.cookies.get("tessera_refresh") or "unused-cookie",
        ]
    logged = "\n".join(
        [
            caplog.text,
            *(str(r.args) for r in caplog.records),
            *(r.getMessage() for r in caplog.records),
        ]
    )
    assert "reuse" in logged  # the log did record the events
    for secret in secrets:
        assert secret not in logged


async def test_error_bodies_never_echo_secrets(tmp_path: Path) -> None:
    async with served(make_settings(tmp_path / "d")) as (_, client):
        wrong = await client.post("/auth/login", json={"username": "x", "password": PASSWORD})
        invalid = await client.post("/auth/login", json={"username": PASSWORD})
        refresh = await client.post("/auth/refresh", json={"refresh_token": "tsr1_" + "S" * 43})
        for response in (wrong, invalid, refresh):
            assert PASSWORD not in response.text
            assert "S" * 43 not in response.text


async def test_cors_is_closed_by_default_and_explicit_when_configured(tmp_path: Path) -> None:
    preflight = {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-tessera-csrf, content-type",
    }
    async with served(make_settings(tmp_path / "closed")) as (_, client):
        closed = await client.options("/auth/refresh", headers=preflight)
        assert "access-control-allow-origin" not in closed.headers
    settings = make_settings(tmp_path / "open", allowed_origins="https://app.example")
    async with served(settings) as (_, client):
        allowed = await client.options("/auth/refresh", headers=preflight)
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        assert allowed.headers["access-control-allow-credentials"] == "true"
        other = await client.options(
            "/auth/refresh", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert other.headers.get("access-control-allow-origin") != "https://evil.example"
        # The CSRF rule accepts the configured origin for the cookie, and no other.
        await client.post("/auth/refresh", headers={**CSRF, "Origin": "https://app.example"})


def test_no_route_takes_a_token_in_the_url(tmp_path: Path) -> None:
    app = create_app(Tessera(make_settings(tmp_path / "d")))
    for route in app.routes:
        path = getattr(route, "path", "")
        assert "token" not in path.lower() or path.endswith("tessera.js"), path
    schema = app.openapi()
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                assert parameter["in"] != "query" or "token" not in parameter["name"], path
