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
from bench.systems import ALGORITHMS, PASSWORD, SYSTEMS, USERNAME, start

pytestmark = pytest.mark.slow


def header_alg(token: str) -> str:
    head = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["alg"])


async def one_rotation(url: str, system: str, alg: str) -> None:
    api = SYSTEMS[system][1]
    connection = Connection(url)
    try:
        status, body = await connection.request(
            "POST", api.login_path, api.login_body(USERNAME, PASSWORD)
        )
        assert status == 200, body
        access, refresh = api.tokens(body)
        assert header_alg(access) == alg
        payload, headers = api.refresh_request(refresh)
        status, body = await connection.request("POST", api.refresh_path, payload, headers)
        assert status == 200, body
        _, successor = api.tokens(body)
        assert successor != refresh
        status, _ = await connection.request("POST", api.refresh_path, payload, headers)
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
        asyncio.run(one_rotation(server.url, system, alg))
