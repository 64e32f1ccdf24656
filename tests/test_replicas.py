"""Three `tessera serve` processes on one PostgreSQL database, as behind a load balancer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tessera import Settings, Tessera
from tests.conftest import PASSWORD
from tests.helpers import wait_until
from tests.live import LISTENING, Served, run_async, serve
from tests.services import SECRET, pg_url  # noqa: F401 - fixture

pytestmark = pytest.mark.slow

GRACE = 2.0
REPLICA_ENV = {
    "TESSERA_SECRET": SECRET,
    "TESSERA_REUSE_GRACE": str(GRACE),
    "TESSERA_KEY_RELOAD_INTERVAL": "1",
    "TESSERA_JWKS_MAX_AGE": "5",
    "TESSERA_ISSUER": "https://auth.test",
    "TESSERA_AUDIENCE": "tessera-tests",
}


def metric(url: str, outcome: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(f'tessera_refreshes_total{{outcome="{outcome}"}}'):
            return float(line.split()[-1])
    return 0.0


@pytest.fixture
def replicas(tmp_path: Path, pg_url: str) -> Iterator[tuple[list[str], str]]:  # noqa: F811
    env = {**REPLICA_ENV, "TESSERA_DATABASE_URL": pg_url}
    with ExitStack() as stack:
        # Started together on an empty database: one migrates and makes the key, the others wait.
        served: list[Served] = [
            stack.enter_context(serve(tmp_path / f"replica{n}", env=env)) for n in range(3)
        ]
        urls = [s.expect(LISTENING).group(1) for s in served]
        yield urls, pg_url


def add_user(pg: str) -> None:
    async def go() -> None:
        service = Tessera(
            Settings(
                database_url=pg,
                secret=SECRET,
                argon2_time_cost=1,
                argon2_memory_kib=1024,
                argon2_parallelism=1,
            )
        )
        try:
            await service.start()
            await service.users.add("alice", PASSWORD)
        finally:
            await service.close()

    run_async(go())


def test_three_replicas_one_database(replicas: tuple[list[str], str]) -> None:
    urls, pg = replicas
    add_user(pg)
    jwks = [httpx.get(f"{u}/.well-known/jwks.json", timeout=10).json() for u in urls]
    assert len({k["kid"] for j in jwks for k in j["keys"]}) == 1  # one key ring, not three

    login = httpx.post(
        f"{urls[0]}/auth/login",
        json={"username": "alice", "password": PASSWORD, "transport": "body"},
        timeout=10,
    ).json()
    token = login["refresh_token"]

    async def storm() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await asyncio.gather(
                *(
                    client.post(f"{urls[n % 3]}/auth/refresh", json={"refresh_token": token})
                    for n in range(50)
                )
            )

    started = time.monotonic()
    responses = asyncio.run(storm())
    assert time.monotonic() - started < GRACE, "the storm outlasted the grace window"
    assert [r.status_code for r in responses] == [200] * 50  # no 5xx, no reuse
    new_tokens = {r.json()["refresh_token"] for r in responses}
    assert len(new_tokens) == 1  # every success carries the same new refresh token
    assert sum(metric(u, "rotated") for u in urls) == 1  # exactly one rotation
    newest = new_tokens.pop()
    access = responses[0].json()["access_token"]

    # After the grace window the old token is theft: the session dies on every replica. The
    # replicas run on their own clocks, so the window has to pass for real: the pause is the
    # scenario.
    time.sleep(GRACE + 0.2)
    reuse = httpx.post(f"{urls[1]}/auth/refresh", json={"refresh_token": token}, timeout=10)
    assert reuse.status_code == 401
    for url in urls:
        dead = httpx.post(f"{url}/auth/refresh", json={"refresh_token": newest}, timeout=10)
        assert dead.status_code == 401 and dead.json()["error"] == "invalid_grant"
        listing = httpx.get(
            f"{url}/auth/sessions", headers={"Authorization": f"Bearer {access}"}, timeout=10
        )
        assert listing.status_code == 401


def test_a_key_rotation_reaches_every_replica(replicas: tuple[list[str], str]) -> None:
    urls, pg = replicas

    async def rotate() -> str:
        service = Tessera(Settings(database_url=pg, secret=SECRET))
        try:
            await service.start()
            return (await service.keys.rotate()).kid
        finally:
            await service.close()

    new_kid = run_async(rotate())

    def published(url: str) -> bool:
        keys = httpx.get(f"{url}/.well-known/jwks.json").json()["keys"]
        return new_kid in {k["kid"] for k in keys}

    # within the JWKS cache time
    wait_until(lambda: all(published(u) for u in urls), "the new key on every replica", 5)
