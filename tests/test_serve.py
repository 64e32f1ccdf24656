"""The server over a real socket: `tessera serve` as a subprocess, and the same server code
in-process on a moved clock (the seed's six steps, with the body and the cookie transport)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import httpx
import pytest

from tessera import ManualClock, Tessera
from tests.conftest import PASSWORD, START, make_settings
from tests.live import LISTENING, add_user, in_process_server, serve

pytestmark = pytest.mark.slow

HTTP_TIMEOUT = 10.0
DEMO_LOGIN = re.compile(r"demo login: username '([^']+)', password '([^']+)'")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_serve_demo_login_refresh_logout(tmp_path: Path) -> None:
    with serve(tmp_path / "data", "--demo") as served:
        url = served.expect(LISTENING).group(1)
        username, password = served.expect(DEMO_LOGIN).groups()
        assert username == "demo"
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url) and not url.endswith(":0")

        with httpx.Client(base_url=url, timeout=HTTP_TIMEOUT) as http:
            assert http.get("/healthz").status_code == 200
            assert http.get("/readyz").status_code == 200
            jwks = http.get("/.well-known/jwks.json")
            assert jwks.status_code == 200
            cache = jwks.headers.get("cache-control", "")
            assert "public" in cache and re.search(r"max-age=[1-9]\d*", cache), cache
            kids = {key["kid"] for key in jwks.json()["keys"]}

            wrong = http.post("/auth/login", json={"username": "demo", "password": "nope"})
            assert wrong.status_code == 401
            assert wrong.json()["error"] == "invalid_credentials"

            login = http.post(
                "/auth/login",
                json={"username": username, "password": password, "transport": "body"},
            )
            assert login.status_code == 200, login.text
            tokens = login.json()
            assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0
            assert "set-cookie" not in login.headers
            me = http.get("/api/me", headers=bearer(tokens["access_token"]))
            assert me.status_code == 200, me.text
            assert me.json()["role"] == "user" and me.json()["sid"] == tokens["session_id"]

            refreshed = http.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
            assert refreshed.status_code == 200, refreshed.text
            new = refreshed.json()
            assert new["refresh_token"] != tokens["refresh_token"]
            assert new["session_id"] == tokens["session_id"]
            me = http.get("/api/me", headers=bearer(new["access_token"]))
            assert me.status_code == 200, me.text
            assert me.json()["sid"] == tokens["session_id"]

            logout = http.post("/auth/logout", json={"refresh_token": new["refresh_token"]})
            assert logout.status_code == 204
            after = http.post("/auth/refresh", json={"refresh_token": new["refresh_token"]})
            assert after.status_code == 401
            assert after.json()["error"] == "invalid_grant"

        # the access token's kid is one the JWKS publishes
        header = new["access_token"].split(".")[0]
        kid = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
        assert kid in kids

        served.stop()  # SIGTERM: a clean, prompt shutdown
        assert served.process.returncode is not None


def test_serve_without_users_says_how_to_add_one(tmp_path: Path) -> None:
    with serve(tmp_path / "data") as served:
        url = served.expect(LISTENING).group(1)
        hint = served.expect(re.compile(r"tessera users add"))
        assert "no users" in hint.string
        with httpx.Client(base_url=url, timeout=HTTP_TIMEOUT) as http:
            assert http.get("/healthz").status_code == 200
            refused = http.post("/auth/login", json={"username": "demo", "password": "x"})
            assert refused.status_code == 401


# the same server in-process, on a clock the test moves -------------------------------------


def expire_access_token(clock: ManualClock, service: Tessera) -> None:
    clock.advance(service.settings.access_ttl + service.settings.leeway + 1)


def assert_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_token"
    challenge = response.headers.get("www-authenticate", "")
    assert challenge.startswith("Bearer") and 'error="invalid_token"' in challenge, challenge


def test_six_steps_with_a_moved_clock_body_transport(tmp_path: Path, clock: ManualClock) -> None:
    data_dir = tmp_path / "data"
    add_user(data_dir, "alice")
    service = Tessera(make_settings(data_dir, access_ttl=60), clock=clock)
    with (
        in_process_server(service) as url,
        httpx.Client(base_url=url, timeout=HTTP_TIMEOUT) as http,
    ):
        # 1. log in
        login = http.post(
            "/auth/login", json={"username": "alice", "password": PASSWORD, "transport": "body"}
        )
        assert login.status_code == 200, login.text
        tokens = login.json()
        assert tokens["expires_at"] == int(START + 60)
        # 2. the API answers
        me = http.get("/api/me", headers=bearer(tokens["access_token"]))
        assert me.status_code == 200, me.text
        assert me.json()["exp"] == int(START + 60)
        # 3. time passes beyond exp + leeway: the API says 401 invalid_token (RFC 6750)
        expire_access_token(clock, service)
        assert_invalid_token(http.get("/api/me", headers=bearer(tokens["access_token"])))
        # 4. refresh
        refreshed = http.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text
        new = refreshed.json()
        assert new["access_token"] != tokens["access_token"]
        assert new["refresh_token"] != tokens["refresh_token"]
        assert new["expires_at"] == int(clock.now() + 60)
        # 5. the retry succeeds
        me = http.get("/api/me", headers=bearer(new["access_token"]))
        assert me.status_code == 200, me.text
        assert me.json()["sid"] == tokens["session_id"]
        # the old access token is still expired
        assert_invalid_token(http.get("/api/me", headers=bearer(tokens["access_token"])))

        # the default cookie is Secure (and never in the body)
        cookie_login = http.post(
            "/auth/login", json={"username": "alice", "password": PASSWORD, "transport": "cookie"}
        )
        assert cookie_login.status_code == 200, cookie_login.text
        assert "refresh_token" not in cookie_login.json()
        set_cookie = cookie_login.headers["set-cookie"]
        assert set_cookie.startswith("tessera_refresh=")
        assert "Secure" in set_cookie and "HttpOnly" in set_cookie


def test_six_steps_with_a_moved_clock_cookie_transport(tmp_path: Path, clock: ManualClock) -> None:
    data_dir = tmp_path / "data"
    add_user(data_dir, "alice")
    # httpx does not send a Secure cookie over plain http: this server is configured accordingly
    settings = make_settings(data_dir, access_ttl=60, cookie_secure=False)
    service = Tessera(settings, clock=clock)
    with (
        in_process_server(service) as url,
        httpx.Client(base_url=url, timeout=HTTP_TIMEOUT) as http,
    ):
        # 1. log in; the refresh token only travels as a cookie scoped to /auth
        login = http.post(
            "/auth/login", json={"username": "alice", "password": PASSWORD, "transport": "cookie"}
        )
        assert login.status_code == 200, login.text
        tokens = login.json()
        assert "refresh_token" not in tokens and "refresh_expires_at" not in tokens
        set_cookie = login.headers["set-cookie"]
        for attribute in ("HttpOnly", "SameSite=Strict", "Path=/auth"):
            assert attribute in set_cookie, set_cookie
        assert "Secure" not in set_cookie
        first_cookie = http.cookies.get("tessera_refresh")
        assert first_cookie
        # 2. the API answers
        assert http.get("/api/me", headers=bearer(tokens["access_token"])).status_code == 200
        # 3. time passes: 401 invalid_token
        expire_access_token(clock, service)
        assert_invalid_token(http.get("/api/me", headers=bearer(tokens["access_token"])))
        # a cookie refresh without the CSRF header is refused, and changes nothing
        forged = http.post("/auth/refresh")
        assert forged.status_code == 403, forged.text
        assert forged.json()["error"] == "csrf_failed"
        assert http.cookies.get("tessera_refresh") == first_cookie
        # 4. refresh with the cookie and the CSRF header
        refreshed = http.post("/auth/refresh", headers={"X-Tessera-CSRF": "1"})
        assert refreshed.status_code == 200, refreshed.text
        new = refreshed.json()
        assert "refresh_token" not in new
        assert new["session_id"] == tokens["session_id"]
        second_cookie = http.cookies.get("tessera_refresh")
        assert second_cookie and second_cookie != first_cookie
        # 5. the retry succeeds
        me = http.get("/api/me", headers=bearer(new["access_token"]))
        assert me.status_code == 200, me.text
        assert me.json()["sid"] == tokens["session_id"]
        # logging out clears the cookie; the refresh token is dead
        out = http.post("/auth/logout", headers={"X-Tessera-CSRF": "1"})
        assert out.status_code == 204, out.text
        dead = http.post(
            "/auth/refresh",
            headers={"X-Tessera-CSRF": "1", "Cookie": f"tessera_refresh={second_cookie}"},
        )
        assert dead.status_code == 401 and dead.json()["error"] == "invalid_grant"
