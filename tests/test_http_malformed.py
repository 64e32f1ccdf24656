"""Malformed input of every kind to every route: always a 4xx in the contract's error shape
`{"error": CODE, "error_description": TEXT}`, never a 5xx, and nothing broken afterwards.

The cases are the table in tests/malformed/ (one `Case` row per request; to cover a new input,
add a row there). Every response must be: < 500; one of the row's statuses; for any error,
JSON with `error` and `error_description` strings, a code that fits the status (and the row's
codes), a Bearer `WWW-Authenticate` with `invalid_token`, no password or refresh token echoed.
After every case the clock moves past the reuse grace window and the own refresh token must
still rotate (so a case that quietly rotated or revoked it fails), unless the row says the case
may spend it. `test_state_after_the_barrage` sends the whole table to a service of its own,
then checks that a session opened before it still refreshes and everything else still works.

The table's cases share one service (module scope, so the table stays fast) whose login limits
are out of the way; each case also comes from its own client IP, and each re-opens the session
it aims at when an earlier case spent it, so no case depends on another having run. The
default login limits have a test of their own; tests/test_http_fuzz.py fuzzes the bodies.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import PASSWORD
from tests.helpers import login
from tests.malformed import CASES
from tests.malformed.checks import assert_error_shape, assert_login_refresh_api, assert_outcome
from tests.malformed.routes import OPEN_GET_ROUTES
from tests.malformed.table import LOGIN, REFRESH, WRONG, Case
from tests.malformed.world import World, client_for, markers, open_world, send

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with open_world(tmp_path_factory.mktemp("malformed") / "data") as world:
        yield world


@pytest.mark.parametrize("case", CASES)
async def test_malformed_request(world: World, case: Case) -> None:
    own = await world.own_session()
    world.own = None  # until it is shown to be alive
    async with world.client() as client:
        response = await send(client, case, markers(own))
        survivor = None
        if not case.spends_own:
            # The case must not have rotated or revoked the own session: past the grace window,
            # its refresh token still rotates.
            world.past_grace()
            survivor = await client.post(REFRESH, json={"refresh_token": own["refresh_token"]})
            if survivor.status_code == 200:
                world.own = {**own, **survivor.json()}
    assert_outcome(case, response, [PASSWORD, own["refresh_token"], world.victim_refresh])
    if survivor is not None:
        assert survivor.status_code == 200, f"the session's refresh token died: {survivor.text}"


async def test_extra_login_fields_grant_nothing(world: World) -> None:
    """Unknown fields are ignored, never obeyed: no role, subject or lifetime from the body."""
    async with world.client() as client:
        response = await client.post(
            LOGIN,
            json={
                "username": "alice",
                "password": PASSWORD,
                "transport": "body",
                "role": "admin",
                "sub": "root",
                "expires_in": 10**9,
                "__proto__": {"role": "admin"},
            },
        )
        assert response.status_code in (200, 400), response.text
        if response.status_code == 400:
            assert_error_shape(response)
            return
        token = response.json()["access_token"]
        me = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        assert me.json()["role"] == "user"
        assert response.json()["expires_in"] <= world.service.settings.access_ttl


async def test_login_rate_limit_answers_in_the_shape(client: httpx.AsyncClient) -> None:
    """With the default limits (a fresh service): failures end in 429 in the error shape, with
    Retry-After; another username still logs in."""
    statuses = []
    for _ in range(12):
        response = await client.post(LOGIN, json={"username": "mallory", "password": WRONG})
        statuses.append(response.status_code)
        if response.status_code != 401:
            break
    assert response.status_code == 429, statuses
    assert assert_error_shape(response, [WRONG])["error"] == "rate_limited"
    await assert_login_refresh_api(client)


async def test_failed_then_good_login_leaves_no_background_error(app: FastAPI) -> None:
    """A good login clears the user's earlier failures; that must not crash anything, not even
    background work the login limiter may run at that moment (an expiry walk over its keys, as
    the `limits` library's in-memory store does).

    The two pauses are the scenario, not a wait for a known event: they give such a walk the
    time to run its course, and nothing public says when one has (today's in-process limiter
    has none; the test guards against one coming back)."""
    for n in range(150):  # many limiter keys, so an expiry walk takes a while
        async with client_for(app, f"10.9.{n // 100}.{n % 100}") as client:
            response = await client.post(LOGIN, json={"username": f"u{n}", "password": WRONG})
            assert response.status_code == 401
    async with client_for(app, "10.9.9.9") as client:
        response = await client.post(LOGIN, json={"username": "alice", "password": WRONG})
        assert response.status_code == 401
        await asyncio.sleep(0.3)  # walks under way finish
        # This failure starts a new walk over every key, alice's included; the good login
        # right after it clears alice's failures while that walk is still going.
        response = await client.post(LOGIN, json={"username": "dave", "password": WRONG})
        assert response.status_code == 401
        await assert_login_refresh_api(client)
        await asyncio.sleep(0.3)
        # The next failure replaces the walk task; a task that died with an exception reports
        # it when it is collected, and the test runner turns that into a failure.
        response = await client.post(LOGIN, json={"username": "carol", "password": WRONG})
        assert response.status_code == 401
        gc.collect()
        await asyncio.sleep(0.01)  # room for anything the collection scheduled


async def barrage(world: World) -> None:
    """Every row of the table, once, aimed at the world's own session (re-opened after a row
    that may spend it). The outcomes are `test_malformed_request`'s to check; here only that
    none is a server error."""
    for param in CASES:
        case: Case = param.values[0]
        own = await world.own_session()
        async with world.client() as client:
            response = await send(client, case, markers(own))
        assert response.status_code < 500, f"{param.id}: {response.text[:300]!r}"
        if case.spends_own:
            world.own = None


async def test_state_after_the_barrage(tmp_path: Path) -> None:
    """On a service of its own, after the whole table: the session opened before the barrage
    still refreshes, and everything else still works."""
    async with open_world(tmp_path / "data") as world:
        await barrage(world)
        world.past_grace()
        async with world.client() as client:
            victim = await client.post(REFRESH, json={"refresh_token": world.victim_refresh})
            assert victim.status_code == 200, victim.text
            bearer = {"Authorization": f"Bearer {victim.json()['access_token']}"}
            assert (await client.get("/api/me", headers=bearer)).status_code == 200
            await assert_login_refresh_api(client)
            tokens = await login(client, "root")
            bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
            for path in ("/auth/sessions", "/api/me"):
                assert (await client.get(path, headers=bearer)).status_code == 200, path
            for path in OPEN_GET_ROUTES:
                assert (await client.get(path)).status_code == 200, path
            revoke = await client.delete(f"/auth/sessions/{tokens['session_id']}", headers=bearer)
            assert revoke.status_code == 204
            gone = await client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})
            assert gone.status_code == 401
            assert_error_shape(gone)
