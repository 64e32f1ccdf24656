"""The machine's PostgreSQL and Redis for tests: a fresh database per test, and a clear skip
when a server is not reachable — except under CI=true, where that is a failure."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
import pytest
import redis

from tests.live import run_async

POSTGRES = os.environ.get("TESSERA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("TESSERA_TEST_REDIS", "redis://127.0.0.1:6379/15")
SECRET = "test-secret-shared-by-all-replicas-0123456789"


def _unavailable(what: str, why: Exception) -> None:
    message = f"{what} is not reachable ({type(why).__name__}: {why})"
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; CI needs it")
    pytest.skip(message)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES + "/postgres", timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; dropped afterwards."""
    name = f"tessera_test_{secrets.token_hex(6)}"
    try:
        run_async(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        _unavailable("PostgreSQL", exc)
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        run_async(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_database() as url:
        yield url


@pytest.fixture
def redis_url() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS, socket_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        _unavailable("Redis", exc)
    yield REDIS
    client.flushdb()
    client.close()
