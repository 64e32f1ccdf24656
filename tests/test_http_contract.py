"""The rest of the HTTP contract: login errors, limits, bearer checks, operations routes."""

from __future__ import annotations

import re
from pathlib import Path

import argon2
import httpx
import pytest

from tessera import Tessera
from tessera.store import SQLStore
from tests.conftest import PASSWORD, make_settings
from tests.helpers import assert_error, bearer, login, served

pytestmark = pytest.mark.anyio


async def test_wrong_password_and_unknown_user_look_the_same(client: httpx.AsyncClient) -> None:
    wrong = await client.post("/auth/login", json={"username": "alice", "password": "nope"})
    unknown = await client.post("/auth/login", json={"username": "mallory", "password": "nope"})
    assert_error(wrong, 401, "invalid_credentials")
    assert wrong.json() == unknown.json()
    assert wrong.status_code == unknown.status_code
    differ = {"x-request-id"}
    assert {k: v for k, v in wrong.headers.items() if k not in differ} == {
        k: v for k, v in unknown.headers.items() if k not in differ
    }


async def test_login_validation_errors(client: httpx.AsyncClient) -> None:
    missing = await client.post("/auth/login", json={"username": "alice"})
    assert_error(missing, 400, "invalid_request")
    bad_transport = await client.post(
        "/auth/login", json={"username": "alice", "password": PASSWORD, "transport": "carrier"}
    )
    assert_error(bad_transport, 400, "invalid_request")
    not_json = await client.post(
        "/auth/login", content=b"{", headers={"content-type": "application/json"}
    )
    assert_error(not_json, 400, "invalid_request")
    assert PASSWORD not in missing.text + bad_transport.text


async def test_login_rate_limit_per_username(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "d", login_limit_per_user=3)
    async with served(settings) as (service, client):
        await service.users.add("alice", PASSWORD)
        for _ in range(3):
            response = await client.post("/auth/login", json={"username": "alice", "password": "x"})
            assert_error(response, 401, "invalid_credentials")
        limited = await client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
        assert_error(limited, 429, "rate_limited")
        assert 0 < int(limited.headers["retry-after"]) <= 900
        # Unknown usernames are limited the same way: no enumeration through the limiter.
        for _ in range(3):
            await client.post("/auth/login", json={"username": "ghost", "password": "x"})
        ghost = await client.post("/auth/login", json={"username": "ghost", "password": "x"})
        assert_error(ghost, 429, "rate_limited")
        # Other accounts are unaffected.
        await service.users.add("bob", PASSWORD)
        ok = await client.post("/auth/login", json={"username": "bob", "password": PASSWORD})
        assert ok.status_code == 200


async def test_login_rate_limit_per_ip(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "d", login_limit_per_ip=4)
    async with served(settings, ("198.51.100.9", 1)) as (_, client):
        for n in range(4):
            response = await client.post("/auth/login", json={"username": f"u{n}", "password": "x"})
            assert_error(response, 401, "invalid_credentials")
        limited = await client.post("/auth/login", json={"username": "u9", "password": "x"})
        assert_error(limited, 429, "rate_limited")


async def test_successful_login_clears_the_username_counter(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "d", login_limit_per_user=3)
    async with served(settings) as (service, client):
        await service.users.add("alice", PASSWORD)
        for _ in range(2):
            await client.post("/auth/login", json={"username": "alice", "password": "x"})
        assert (await login(client))["access_token"]
        for _ in range(2):
            await client.post("/auth/login", json={"username": "alice", "password": "x"})
        assert (await login(client))["access_token"]


@pytest.mark.parametrize(
    ("header", "has_error"),
    [
        (None, False),
        ("Basic YWxpY2U6c2VjcmV0", True),
        ("Bearer", True),
        ("Bearer ", True),
        ("Bearer not-a-token", True),
        ("Bearer a.b.c", True),
    ],
)
async def test_protected_route_refuses_bad_credentials(
    client: httpx.AsyncClient, header: str | None, has_error: bool
) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = await client.get("/api/me", headers=headers)
    assert_error(response, 401, "invalid_token")
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert ('error="invalid_token"' in challenge) is has_error


async def test_bearer_scheme_is_case_insensitive(client: httpx.AsyncClient) -> None:
    tokens = await login(client)
    response = await client.get(
        "/api/me", headers={"Authorization": f"bearer {tokens['access_token']}"}
    )
    assert response.status_code == 200


async def test_me_reports_the_token(client: httpx.AsyncClient) -> None:
    tokens = await login(client, "root")
    me = (await client.get("/api/me", headers=bearer(tokens["access_token"]))).json()
    assert set(me) == {"sub", "role", "sid", "exp", "name"}
    assert me["role"] == "admin"
    assert me["name"] == "root"  # the username, for showing; sub stays the user's id
    assert me["sub"] != "root"
    assert me["sid"] == tokens["session_id"]
    assert me["exp"] == tokens["expires_at"]


async def test_unknown_route_and_wrong_method(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/no/such/route"), 404, "not_found")
    assert_error(await client.get("/auth/login"), 405, "method_not_allowed")
    assert_error(await client.put("/auth/refresh"), 405, "method_not_allowed")


async def test_body_limit(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/login",
        content=b'{"username":"' + b"a" * 70_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert_error(response, 413, "request_too_large")


async def test_body_limit_without_content_length(client: httpx.AsyncClient) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * 8192

    response = await client.post(
        "/auth/login", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_error(response, 413, "request_too_large")


class UnreachableStore(SQLStore):
    async def ping(self) -> None:
        raise ConnectionRefusedError("database is down")


async def test_health_and_readiness(client: httpx.AsyncClient, auth: Tessera) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}
    assert isinstance(auth.store, SQLStore)
    auth.store = UnreachableStore(auth.store.engine)
    response = await client.get("/readyz")
    assert_error(response, 503, "unavailable")
    assert response.headers["retry-after"]


async def test_metrics_count_logins_and_refreshes(client: httpx.AsyncClient) -> None:
    tokens = await login(client)
    await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    await client.post("/auth/login", json={"username": "alice", "password": "wrong"})
    await client.post("/auth/refresh", json={"refresh_token": "tsr1_" + "Z" * 43})
    text = (await client.get("/metrics")).text
    assert 'tessera_logins_total{outcome="ok"} 1.0' in text
    assert 'tessera_logins_total{outcome="failed"} 1.0' in text
    assert 'tessera_refreshes_total{outcome="rotated"} 1.0' in text
    assert 'tessera_refresh_failures_total{reason="unknown"} 1.0' in text
    assert (
        'tessera_request_duration_seconds_count{method="POST",route="/auth/refresh",status="2xx"}'
        " 1.0" in text
    )
    assert "tessera_signing_key_age_seconds" in text


async def test_metrics_label_only_known_methods(client: httpx.AsyncClient) -> None:
    """Clients choose the method token: any the server does not know is labelled "other", so
    a client cannot grow the metrics without bound."""
    for method in ("PROPFIND", "X-CUSTOM-1", "X-CUSTOM-2", "BREW"):
        await client.request(method, "/auth/login")
    await client.get("/healthz")
    text = (await client.get("/metrics")).text
    methods = set(re.findall(r'tessera_request_duration_seconds_count\{method="([^"]+)"', text))
    assert methods == {"GET", "other"}


async def test_request_ids(client: httpx.AsyncClient) -> None:
    mine = await client.get("/healthz", headers={"X-Request-ID": "trace-123"})
    assert mine.headers["x-request-id"] == "trace-123"
    hostile = await client.get("/healthz", headers={"X-Request-ID": "bad id\n" * 20})
    assert hostile.headers["x-request-id"] != "bad id\n" * 20
    assert len(hostile.headers["x-request-id"]) == 16


async def test_security_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_pages_and_assets(client: httpx.AsyncClient) -> None:
    demo = await client.get("/")
    assert demo.status_code == 200 and demo.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in demo.headers["content-security-policy"]
    assert '<meta name="tessera-prefix" content="/auth">' in demo.text
    decoder = await client.get("/decoder")
    csp = decoder.headers["content-security-policy"]
    assert "connect-src 'none'" in csp and "default-src 'none'" in csp
    assert "{{" not in decoder.text  # script and style are inlined
    script = await client.get("/auth/tessera.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "export function createAuth" in script.text
    assert (await client.get("/assets/demo.js")).status_code == 200
    assert_error(await client.get("/assets/secret.key"), 404, "not_found")
    assert_error(await client.get("/assets/..%2Fsettings.py"), 404, "not_found")
    assert (await client.get("/openapi.json")).status_code == 200


async def test_unknown_user_costs_one_argon2_verification(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unknown-username path runs the same argon2 work as a wrong password."""
    calls: list[str] = []
    verify = argon2.PasswordHasher.verify

    def counting_verify(hasher: argon2.PasswordHasher, stored: str, password: str) -> bool:
        calls.append(stored)
        return verify(hasher, stored, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting_verify)
    await client.post("/auth/login", json={"username": "alice", "password": "wrong"})
    await client.post("/auth/login", json={"username": "nobody", "password": "wrong"})
    assert len(calls) == 2
    assert all(stored.startswith("$argon2id$") for stored in calls)
    # Same parameters for the real hash and the dummy one.
    assert calls[0].split("$")[3] == calls[1].split("$")[3]


async def test_probes_answer_head_and_trailing_slashes_do_not_redirect(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.head("/healthz")).status_code == 200
    assert (await client.head("/readyz")).status_code == 200
    assert_error(await client.delete("/auth/sessions/"), 404, "not_found")


async def test_unparseable_content_length_is_a_bad_request(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/login", content=b"{}", headers={"content-length": "abc"})
    assert_error(response, 400, "invalid_request")
