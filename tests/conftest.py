"""Shared fixtures: a Tessera on a fresh SQLite file, a manual clock, an HTTP client."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tessera import ManualClock, Settings, Tessera, create_app

pytest_plugins = ["tests.browser"]  # the browser tests' fixtures

PASSWORD = "correct horse battery staple"
START = 1_800_000_000.0


@pytest.fixture
def configured_logging() -> Iterator[None]:
    """Puts back every logger `configure` touches, so no later test logs its way."""
    names = ["", "uvicorn", "uvicorn.error", "uvicorn.access", "aiosqlite", "asyncpg", "sqlalchemy"]
    loggers = [logging.getLogger(name) for name in names]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    try:
        yield
    finally:
        for lg, (handlers, level, propagate) in zip(loggers, saved, strict=True):
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate = propagate


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for tests: a private data dir and cheap argon2 (the cost is not under test)."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "argon2_parallelism": 1,
        "issuer": "https://auth.test",
        "audience": "tessera-tests",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
async def auth(settings: Settings, clock: ManualClock) -> AsyncIterator[Tessera]:
    service = Tessera(settings, clock=clock)
    await service.start()
    await service.users.add("alice", PASSWORD)
    await service.users.add("root", PASSWORD, role="admin")
    yield service
    await service.close()


@pytest.fixture
def app(auth: Tessera) -> FastAPI:
    return create_app(auth)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4242))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c
