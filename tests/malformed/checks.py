"""What every answer must be: the contract's error shape, a status the row allows, no secret
repeated; and the check that the service still works."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx

from tests.helpers import login
from tests.malformed.table import REFRESH, Case

# What each status may say, whatever the route (the contract's codes).
CODES_BY_STATUS: dict[int, frozenset[str]] = {
    400: frozenset({"invalid_request"}),
    401: frozenset({"invalid_token", "invalid_grant", "invalid_credentials"}),
    403: frozenset({"csrf_failed", "insufficient_scope", "forbidden"}),
    404: frozenset({"not_found"}),
    405: frozenset({"method_not_allowed"}),
    411: frozenset({"length_required"}),
    413: frozenset({"request_too_large"}),
    415: frozenset({"unsupported_media_type"}),
    422: frozenset({"invalid_request"}),
    429: frozenset({"rate_limited"}),
}


def assert_error_shape(response: httpx.Response, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """The contract's error body: JSON `{"error": CODE, "error_description": TEXT}`."""
    status = response.status_code
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith("application/json"), (
        f"{status} error is not JSON: {content_type!r} {response.text[:200]!r}"
    )
    body = response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str) and body["error"], body
    assert isinstance(body.get("error_description"), str) and body["error_description"], body
    if status in CODES_BY_STATUS:
        assert body["error"] in CODES_BY_STATUS[status], (status, body)
    if body["error"] == "invalid_token":
        assert response.headers.get("www-authenticate", "").startswith("Bearer"), response.headers
    if status == 429:
        assert response.headers.get("retry-after"), response.headers
    for secret in secrets:
        assert secret not in response.text, "an error body repeats a secret"
    return body


def assert_outcome(case: Case, response: httpx.Response, secrets: Iterable[str]) -> None:
    status = response.status_code
    assert status < 500, f"server error {status}: {response.text[:300]!r}"
    assert status in case.expect, (
        f"status {status} not in {sorted(case.expect)}: {response.text[:300]!r}"
    )
    if status >= 400 and case.method != "HEAD":
        body = assert_error_shape(response, secrets)
        if case.codes:
            assert body["error"] in case.codes, body
    if case.clears_cookie and status == 401:
        cookies = response.headers.get_list("set-cookie")
        assert any(c.startswith("tessera_refresh=;") and "Max-Age=0" in c for c in cookies), cookies


async def assert_login_refresh_api(client: httpx.AsyncClient) -> None:
    """A fresh login, a refresh and an API call all work."""
    fresh = await login(client)
    rotated = await client.post(REFRESH, json={"refresh_token": fresh["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    bearer = {"Authorization": f"Bearer {rotated.json()['access_token']}"}
    me = await client.get("/api/me", headers=bearer)
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "user"
