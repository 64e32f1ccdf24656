"""The standalone app answers `/auth/refresh` without the router's walk (`http.direct`), and a
refresh answered that way looks, from outside and in the operator's metrics and log, exactly as
one the router answered: the same answers, headers, CORS, body limit, labels."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.types import Scope

from tessera import Tessera, create_app
from tessera.http.direct import DirectRoutes
from tessera.http.models import TokenResponse
from tests.conftest import PASSWORD

pytestmark = pytest.mark.anyio


@pytest.fixture
def matched(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The paths of the routes the router tried to match, in order."""
    tried: list[str] = []
    original = APIRoute.matches

    def spy(self: APIRoute, scope: Scope) -> object:
        tried.append(self.path)
        return original(self, scope)

    monkeypatch.setattr(APIRoute, "matches", spy)
    yield tried


async def log_in(client: httpx.AsyncClient) -> dict[str, str]:
    answer = await client.post(
        "/auth/login", json={"username": "alice", "password": PASSWORD, "transport": "body"}
    )
    assert answer.status_code == 200
    return answer.json()


async def test_only_routes_that_need_nothing_but_the_request_are_direct(
    auth: Tessera, app: FastAPI
) -> None:
    direct = DirectRoutes(app, [*auth.router.routes, *app.routes])
    assert list(direct.table) == [("POST", "/auth/refresh")]


async def test_a_refresh_skips_the_router_and_other_routes_do_not(
    client: httpx.AsyncClient, matched: list[str]
) -> None:
    tokens = await log_in(client)
    matched.clear()
    answer = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert answer.status_code == 200
    assert matched == []
    # The answer, built without the model, is what the contract's schema says, no more.
    assert TokenResponse.model_validate(answer.json()).model_dump(exclude_none=True) == (
        answer.json()
    )
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"
    assert len(answer.headers["x-request-id"]) == 16
    # The same route's other methods, and every other route, still go through the router.
    assert (await client.get("/auth/refresh")).status_code == 405
    assert "/auth/refresh" in matched
    matched.clear()
    assert (await client.get("/healthz")).status_code == 200
    assert matched


async def test_errors_of_a_direct_refresh_keep_the_contracts_shape(
    client: httpx.AsyncClient,
) -> None:
    reused = await client.post("/auth/refresh", json={"refresh_token": "nope"})
    assert reused.status_code == 401
    assert reused.json()["error"] == "invalid_grant"
    bad = await client.post(
        "/auth/refresh", content=b"{", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_request"
    big = await client.post(
        "/auth/refresh",
        content=b"{" + b" " * 100_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert big.status_code == 413


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_metrics_and_the_access_log_name_the_route(
    auth: Tessera, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = await log_in(client)
    access = logging.getLogger("tessera.access")
    kept = Kept()
    monkeypatch.setattr(access, "disabled", False)  # build_server may have turned it off
    level = access.level
    access.setLevel(logging.INFO)  # setLevel, not the attribute: it clears isEnabledFor's cache
    access.addHandler(kept)
    try:
        answer = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    finally:
        access.removeHandler(kept)
        access.setLevel(level)
    assert answer.status_code == 200
    (line,) = kept.records
    assert line.__dict__["route"] == "/auth/refresh"
    assert line.__dict__["status"] == 200
    exposition = (await client.get("/metrics")).text
    assert (
        'tessera_request_duration_seconds_count{method="POST",route="/auth/refresh",status="2xx"}'
        " 1.0" in exposition
    )


async def test_cors_answers_a_direct_route_as_any(auth: Tessera) -> None:
    auth.settings.allowed_origins = ["https://app.test"]  # read when the app is built
    app = create_app(auth)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4242))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        tokens = await log_in(client)
        answer = await client.post(
            "/auth/refresh",
            json={"refresh_token": tokens["refresh_token"]},
            headers={"origin": "https://app.test"},
        )
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "https://app.test"
        assert answer.headers["access-control-allow-credentials"] == "true"


@pytest.fixture
async def rooted(auth: Tessera) -> AsyncIterator[httpx.AsyncClient]:
    """The app behind a proxy that serves it under /id (uvicorn --root-path /id)."""
    transport = httpx.ASGITransport(app=create_app(auth), root_path="/id")
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        yield client


async def test_under_a_root_path_the_router_answers(
    rooted: httpx.AsyncClient, matched: list[str]
) -> None:
    tokens = await log_in(rooted)
    matched.clear()
    answer = await rooted.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert answer.status_code == 200
    assert "/auth/refresh" in matched
