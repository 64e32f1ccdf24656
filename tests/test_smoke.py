"""The shortest path through the server: log in, call the API."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.anyio


async def test_login_then_api_call(client: httpx.AsyncClient) -> None:
    login = await client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    assert login.status_code == 200
    token = login.json()["access_token"]
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["role"] == "user"
