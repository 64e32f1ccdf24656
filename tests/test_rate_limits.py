"""Rate limits shared between replicas through Redis, per process without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import PASSWORD, make_settings
from tests.helpers import assert_error, login, served
from tests.services import redis_url  # noqa: F401 - fixture

pytestmark = pytest.mark.anyio


async def test_login_failures_are_shared_through_redis(tmp_path: Path, redis_url: str) -> None:  # noqa: F811
    settings = make_settings(tmp_path / "d", login_limit_per_user=4, redis_url=redis_url)
    async with served(settings) as (service, replica_a), served(settings) as (_, replica_b):
        await service.users.add("alice", PASSWORD)
        for client in (replica_a, replica_b, replica_a, replica_b):
            wrong = await client.post("/auth/login", json={"username": "alice", "password": "x"})
            assert_error(wrong, 401, "invalid_credentials")
        for client in (replica_a, replica_b):
            limited = await client.post(
                "/auth/login", json={"username": "alice", "password": PASSWORD}
            )
            assert_error(limited, 429, "rate_limited")
            assert int(limited.headers["retry-after"]) > 0


async def test_refreshes_per_token_are_limited(tmp_path: Path, redis_url: str) -> None:  # noqa: F811
    settings = make_settings(tmp_path / "d", refresh_limit=3, redis_url=redis_url)
    async with served(settings) as (service, client):
        await service.users.add("alice", PASSWORD)
        token = (await login(client))["refresh_token"]
        for _ in range(3):  # one rotation and two grace replays
            ok = await client.post("/auth/refresh", json={"refresh_token": token})
            assert ok.status_code == 200
        limited = await client.post("/auth/refresh", json={"refresh_token": token})
        assert_error(limited, 429, "rate_limited")
        assert 0 < int(limited.headers["retry-after"]) <= 60
        fresh = (await login(client))["refresh_token"]  # other sessions are not affected
        assert (
            await client.post("/auth/refresh", json={"refresh_token": fresh})
        ).status_code == 200


async def test_an_unreachable_redis_still_limits_per_process(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "d", login_limit_per_user=2, redis_url="redis://127.0.0.1:9/0"
    )
    async with served(settings) as (service, client):
        await service.users.add("alice", PASSWORD)
        for _ in range(2):
            wrong = await client.post("/auth/login", json={"username": "alice", "password": "x"})
            assert_error(wrong, 401, "invalid_credentials")
        limited = await client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
        assert_error(limited, 429, "rate_limited")


async def test_a_burst_of_concurrent_guesses_cannot_outrun_the_limit(tmp_path: Path) -> None:
    import asyncio

    settings = make_settings(tmp_path / "d", login_limit_per_user=5)
    async with served(settings) as (service, client):
        await service.users.add("alice", PASSWORD)
        guesses = await asyncio.gather(
            *(
                client.post("/auth/login", json={"username": "alice", "password": f"guess{n}"})
                for n in range(40)
            )
        )
        codes = [g.status_code for g in guesses]
        # A few checks at a time from one address; the rest shed at once, never queued.
        assert 1 <= codes.count(401) <= 5
        assert codes.count(429) == 40 - codes.count(401)
        # One at a time, the username still gets exactly five checks in all.
        checked = codes.count(401)
        while checked < 5:
            wrong = await client.post("/auth/login", json={"username": "alice", "password": "x"})
            assert_error(wrong, 401, "invalid_credentials")
            checked += 1
        right = await client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
        assert_error(right, 429, "rate_limited")


async def test_successes_are_given_back_in_redis_too(tmp_path: Path, redis_url: str) -> None:  # noqa: F811
    """Attempts are counted in Redis before the check; a right password takes its count back
    (a negative hit), so only failures use up the address's limit across replicas."""
    settings = make_settings(tmp_path / "d", login_limit_per_ip=3, redis_url=redis_url)
    async with served(settings, ("198.51.100.77", 1)) as (service, client):
        await service.users.add("alice", PASSWORD)
        for _ in range(6):
            ok = await client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
            assert ok.status_code == 200
        for n in range(3):
            wrong = await client.post("/auth/login", json={"username": f"u{n}", "password": "x"})
            assert_error(wrong, 401, "invalid_credentials")
        limited = await client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
        assert_error(limited, 429, "rate_limited")
