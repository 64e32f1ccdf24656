"""Small helpers the HTTP tests share."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import PASSWORD

CSRF = {"X-Tessera-CSRF": "1"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code, body
    assert isinstance(body["error_description"], str) and body["error_description"]
    return body


async def login(
    client: httpx.AsyncClient, username: str = "alice", transport: str = "body"
) -> dict[str, Any]:
    response = await client.post(
        "/auth/login", json={"username": username, "password": PASSWORD, "transport": transport}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/auth/refresh", json={"refresh_token": token})


def set_cookies(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")
