"""`tessera.beside`: which paths are Tessera's, and the two lifespans run as one — Tessera's
first up and last down, a failing start-up reported (and Tessera shut down again), an
application without lifespan support (Django's) served all the same."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tessera import Tessera, beside
from tessera.http.beside import tessera_paths
from tests.conftest import PASSWORD

pytestmark = pytest.mark.anyio


def test_tessera_owns_its_prefix_the_oauth_endpoints_and_two_documents() -> None:
    owns = tessera_paths("/auth/")
    for path in (
        "/auth",
        "/auth/login",
        "/auth/sessions/abc",
        "/oauth/token",
        "/.well-known/jwks.json",
        "/.well-known/oauth-authorization-server",
    ):
        assert owns(path), path
    for path in ("/", "/authors", "/api/me", "/oauthx", "/.well-known/security.txt", "/healthz"):
        assert not owns(path), path
    assert tessera_paths("/api/auth")("/api/auth/login")
    assert not tessera_paths("/api/auth")("/auth/login")


class Lifespan:
    """Drives an ASGI app's lifespan as a server does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.outbox: asyncio.Queue[Message] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def send(self, kind: str) -> str:
        if self.task is None:
            scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
            self.task = asyncio.create_task(self.app(scope, self.inbox.get, self.outbox.put))
        await self.inbox.put({"type": kind})
        reply = await asyncio.wait_for(self.outbox.get(), 10)
        return f"{reply['type']} {reply.get('message', '')}".strip()


def app_with_lifespan(auth: Tessera, events: list[str], fail: bool = False) -> Starlette:
    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        events.append(f"app up, tessera started: {auth._started}")
        if fail:
            raise RuntimeError("no database for the app")
        yield
        events.append(f"app down, tessera started: {auth._started}")

    async def home(_request: Any) -> PlainTextResponse:
        return PlainTextResponse("the app's")

    return Starlette(routes=[Route("/", home), Route("/api/me", home)], lifespan=lifespan)


async def test_both_lifespans_in_order_and_requests_by_path(settings: Any) -> None:
    auth = Tessera(settings)
    events: list[str] = []
    both = beside(auth, app_with_lifespan(auth, events))
    server = Lifespan(both)
    assert await server.send("lifespan.startup") == "lifespan.startup.complete"
    assert events == ["app up, tessera started: True"]

    await auth.users.add("alice", PASSWORD)
    transport = httpx.ASGITransport(app=both)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        assert (await http.get("/")).text == "the app's"
        assert (await http.get("/api/me")).text == "the app's"  # not Tessera's demo route
        login = await http.post("/auth/login", json={"username": "alice", "password": PASSWORD})
        assert login.status_code == 200, login.text
        assert (await http.get("/.well-known/jwks.json")).json()["keys"]
        missing = await http.get("/auth/nothing-here")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"

    assert await server.send("lifespan.shutdown") == "lifespan.shutdown.complete"
    assert events[-1] == "app down, tessera started: True"  # the app stops first
    assert not auth._started


async def test_a_failing_start_up_is_reported_and_tessera_stops_again(settings: Any) -> None:
    auth = Tessera(settings)
    server = Lifespan(beside(auth, app_with_lifespan(auth, [], fail=True)))
    reply = await server.send("lifespan.startup")
    assert reply.startswith("lifespan.startup.failed") and "no database for the app" in reply
    assert not auth._started


async def test_an_app_without_lifespan_support_is_served_all_the_same(settings: Any) -> None:
    async def django_like(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # Django's ASGIHandler refuses the lifespan scope so
            raise ValueError("Django can only handle ASGI/HTTP connections, not lifespan.")
        await PlainTextResponse("django")(scope, receive, send)

    auth = Tessera(settings)
    both = beside(auth, django_like)
    server = Lifespan(both)
    assert await server.send("lifespan.startup") == "lifespan.startup.complete"
    assert auth._started
    transport = httpx.ASGITransport(app=both)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        assert (await http.get("/admin/")).text == "django"
    assert await server.send("lifespan.shutdown") == "lifespan.shutdown.complete"
    assert not auth._started
