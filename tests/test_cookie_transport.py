"""The browser transport: the refresh cookie's exact attributes and the CSRF rule."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.helpers import CSRF, assert_error, bearer, set_cookies

pytestmark = pytest.mark.anyio


async def cookie_login(client: httpx.AsyncClient) -> httpx.Response:
    response = await client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    return response


def cookie_value(response: httpx.Response) -> str:
    [cookie] = set_cookies(response)
    return cookie.split(";")[0].split("=", 1)[1]


async def test_cookie_attributes_and_no_token_in_body(client: httpx.AsyncClient) -> None:
    response = await cookie_login(client)
    [cookie] = set_cookies(response)
    name_value, *attributes = [part.strip() for part in cookie.split(";")]
    assert name_value.startswith("tessera_refresh=tsr1_")
    assert set(attributes) == {
        "Max-Age=1209600",
        "Path=/auth",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
    }
    body = response.json()
    assert "refresh_token" not in body and "refresh_expires_at" not in body
    assert cookie_value(response) not in response.text
    assert response.headers["cache-control"] == "no-store"


async def test_refresh_by_cookie_rotates_the_cookie(client: httpx.AsyncClient) -> None:
    first = cookie_value(await cookie_login(client))
    response = await client.post("/auth/refresh", headers=CSRF)
    assert response.status_code == 200
    assert "refresh_token" not in response.json()
    second = cookie_value(response)
    assert second != first
    me = await client.get("/api/me", headers=bearer(response.json()["access_token"]))
    assert me.status_code == 200


async def test_missing_csrf_header_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    token = cookie_value(await cookie_login(client))
    refused = await client.post("/auth/refresh")
    assert_error(refused, 403, "csrf_failed")
    assert set_cookies(refused) == []  # the cookie is not cleared
    wrong = await client.post("/auth/refresh", headers={"X-Tessera-CSRF": "yes"})
    assert_error(wrong, 403, "csrf_failed")
    # The refused requests did not rotate: the original token is still the current one.
    client.cookies.clear()
    ok = await client.post("/auth/refresh", headers={**CSRF, "Cookie": f"tessera_refresh={token}"})
    assert ok.status_code == 200
    assert (await client.post("/auth/refresh", json={"refresh_token": token})).status_code == 200


async def test_foreign_origin_is_refused(client: httpx.AsyncClient) -> None:
    await cookie_login(client)
    refused = await client.post("/auth/refresh", headers={**CSRF, "Origin": "https://evil.example"})
    assert_error(refused, 403, "csrf_failed")
    null_origin = await client.post("/auth/refresh", headers={**CSRF, "Origin": "null"})
    assert_error(null_origin, 403, "csrf_failed")
    same = await client.post("/auth/refresh", headers={**CSRF, "Origin": "https://testserver"})
    assert same.status_code == 200


async def test_logout_by_cookie_needs_csrf_and_clears_the_cookie(
    client: httpx.AsyncClient,
) -> None:
    token = cookie_value(await cookie_login(client))
    assert_error(await client.post("/auth/logout"), 403, "csrf_failed")
    response = await client.post("/auth/logout", headers=CSRF)
    assert response.status_code == 204
    [cleared] = set_cookies(response)
    assert cleared.startswith("tessera_refresh=;")
    assert "Max-Age=0" in cleared and "Path=/auth" in cleared
    dead = await client.post("/auth/refresh", json={"refresh_token": token})
    assert_error(dead, 401, "invalid_grant")


async def test_invalid_cookie_is_cleared(client: httpx.AsyncClient) -> None:
    garbage = "tsr1_" + "x" * 43
    response = await client.post(
        "/auth/refresh", headers={**CSRF, "Cookie": f"tessera_refresh={garbage}"}
    )
    assert_error(response, 401, "invalid_grant")
    [cleared] = set_cookies(response)
    assert cleared.startswith("tessera_refresh=;") and "Max-Age=0" in cleared


async def test_refresh_without_any_token(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/auth/refresh"), 401, "invalid_grant")


async def test_body_transport_sets_no_cookie(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/login", json={"username": "alice", "password": PASSWORD, "transport": "body"}
    )
    assert set_cookies(response) == []
    renewed = await client.post(
        "/auth/refresh", json={"refresh_token": response.json()["refresh_token"]}
    )
    assert set_cookies(renewed) == []
    assert "refresh_token" in renewed.json()


async def test_form_posted_login_is_not_accepted(client: httpx.AsyncClient) -> None:
    """A cross-site HTML form cannot send JSON; a form body must not log anyone in."""
    response = await client.post(
        "/auth/login",
        content=f'{{"username":"alice","password":"{PASSWORD}"}}',
        headers={"content-type": "text/plain"},
    )
    assert response.status_code in (400, 415)
    assert set_cookies(response) == []
