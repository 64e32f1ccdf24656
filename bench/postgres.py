"""A scratch PostgreSQL database for one benchmark run (the machine's local server)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

POSTGRES = os.environ.get("TESSERA_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES + "/postgres", timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def scratch_database() -> Iterator[str | None]:
    """Yields a database URL, or None when no PostgreSQL is reachable."""
    name = f"tessera_bench_{secrets.token_hex(4)}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError):
        yield None
        return
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
