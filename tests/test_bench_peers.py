"""The benchmark's peer apps still start and rotate (so `make bench` does not rot): each on
SQLite under gunicorn, on each algorithm the bench runs it with (the access token's header
says which), one login, one rotation, the old refresh token refused, one protected GET. Needs
the `bench` extra (`make bench` installs it); skipped without it."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

pytest.importorskip("rest_framework_simplejwt", reason="needs the bench extra: make bench")
pytest.importorskip("flask_jwt_extended", reason="needs the bench extra: make bench")
pytest.importorskip("gunicorn", reason="needs the bench extra: make bench")

from bench.load import Connection
from bench.peers.tessera_app import bench_app
from bench.systems import ALGORITHMS, SYSTEMS, Running, start
from fastapi.routing import APIRoute

from tessera import Tessera

pytestmark = pytest.mark.slow


def header_alg(token: str) -> str:
    head = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["alg"])


async def one_rotation(server: Running, alg: str) -> None:
    url, system = server.url, server.system
    api = SYSTEMS[system][1]
    connection = Connection(url)
    try:
        status, body = await connection.request(
            "POST", api.login_path, api.login_body(server.username, server.password)
        )
        assert status == 200, body
        access, refresh = api.tokens(body)
        assert header_alg(access) == alg
        payload, headers = api.refresh_request(refresh)
        status, body = await connection.request("POST", api.refresh_path, payload, headers)
        assert status == 200, body
        _, successor = api.tokens(body)
        assert successor != refresh
        status, body = await connection.request("POST", api.refresh_path, payload, headers)
        if system == "tessera":  # within its grace window: the same successor, not a new one
            assert status == 200, body
            assert api.tokens(body)[1] == successor
        else:
            assert status == 401  # the rotated-away token is refused
        auth = {"Authorization": f"Bearer {access}"}
        status, _ = await connection.request("GET", api.protected_path, headers=auth)
        assert status == 200
    finally:
        await connection.close()


@pytest.mark.parametrize(
    ("system", "alg"),
    [(system, alg) for system in ("simplejwt", "flask-jwt-extended") for alg in ALGORITHMS[system]],
)
def test_peer_starts_and_rotates(system: str, alg: str) -> None:
    with start(system, None, cpu=None, alg=alg) as server:
        asyncio.run(one_rotation(server, alg))


async def open_and_protected(url: str) -> None:
    connection = Connection(url)
    try:
        for twin in ("/bench/open", "/bench/depends"):
            status, body = await connection.request("GET", twin)
            assert status == 200, body
        status, _ = await connection.request("GET", "/api/me")
        assert status == 401
    finally:
        await connection.close()


def test_tessera_bench_app_serves_the_unprotected_twins_of_api_me() -> None:
    """The bench's Tessera: the same rotation, and `/bench/open` and `/bench/depends` (the
    protected GET's baselines) answering without a token, tried by the router right after
    `/api/me`."""
    with start("tessera", None, cpu=None, cheap_logins=True) as server:
        asyncio.run(one_rotation(server, "RS256"))
        asyncio.run(open_and_protected(server.url))


@pytest.mark.anyio
async def test_the_unprotected_twins_are_tried_right_after_api_me(auth: Tessera) -> None:
    paths = [r.path for r in bench_app(auth).router.routes if isinstance(r, APIRoute)]
    me = paths.index("/api/me")
    assert paths[me + 1 : me + 3] == ["/bench/open", "/bench/depends"]
