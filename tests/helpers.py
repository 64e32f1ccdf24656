"""Small helpers the HTTP tests share."""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from tessera import ManualClock, Settings, Tessera, create_app
from tests.conftest import PASSWORD

CSRF = {"X-Tessera-CSRF": "1"}
POLL = 0.02  # seconds between two looks at a condition
WAIT = 10.0  # how long a wait-for-condition waits before the test calls it lost


async def holds(check: Callable[[], object] | Callable[[], Awaitable[object]]) -> bool:
    result = check()
    return bool(await result) if inspect.isawaitable(result) else bool(result)


def wait_until(check: Callable[[], object], what: str, within: float = WAIT) -> float:
    """Poll `check` until it holds, for what real threads, servers and processes do; fail
    after `within` seconds. Returns the seconds it took."""
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > within:
            pytest.fail(f"waited {within} s for {what}")
        time.sleep(POLL)
    return time.monotonic() - began


async def until(
    check: Callable[[], object] | Callable[[], Awaitable[object]], what: str, within: float = WAIT
) -> float:
    """`wait_until` for what runs on this event loop: the loop keeps running while we wait.
    `check` may be a coroutine function (an HTTP call, say)."""
    began = time.monotonic()
    while not await holds(check):
        if time.monotonic() - began > within:
            pytest.fail(f"waited {within} s for {what}")
        await asyncio.sleep(POLL / 2)
    return time.monotonic() - began


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
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


def subprocess_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any TESSERA_* setting, plus cheap argon2."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env.update(
        TESSERA_ARGON2_TIME_COST="1",
        TESSERA_ARGON2_MEMORY_KIB="1024",
        TESSERA_ARGON2_PARALLELISM="1",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


@asynccontextmanager
async def served(
    settings: Settings, client_address: tuple[str, int] = ("203.0.113.7", 4242)
) -> AsyncIterator[tuple[Tessera, httpx.AsyncClient]]:
    """A started service with its own settings, and an HTTP client on its app."""
    service = Tessera(settings, clock=ManualClock())
    await service.start()
    transport = httpx.ASGITransport(app=create_app(service), client=client_address)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
            yield service, client
    finally:
        await service.close()
