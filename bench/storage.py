"""Database bytes per Tessera session: the growth of the whole database (tables and indexes,
compacted) for N logins, then for R refreshes of each, on SQLite and on PostgreSQL. In-process,
through `Sessions` (no password hashing: only what a session costs in storage)."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import asyncpg

from tessera import Settings, Tessera
from tessera.sessions import ClientInfo

SESSIONS, REFRESHES = 200, 10
CLIENT = ClientInfo(ip="127.0.0.1", user_agent="bench/1.0 (a typical short user agent)")


def _sqlite_bytes(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        return int(pages * size)
    finally:
        conn.close()


async def _postgres_bytes(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM FULL")
        return int(
            await conn.fetchval(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'r'"
            )
        )
    finally:
        await conn.close()


async def measure(database_url: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), secret="bench-" + "s" * 32)
        if database_url:
            settings = settings.model_copy(update={"database_url": database_url})
        auth = Tessera(settings)
        await auth.start()
        path = Path(tmp) / "tessera.db"

        async def size() -> int:
            if database_url:
                return await _postgres_bytes(database_url)
            return await asyncio.to_thread(_sqlite_bytes, path)

        try:
            empty = await size()
            opened = [
                await auth.sessions.open(f"user-{i}", "user", CLIENT) for i in range(SESSIONS)
            ]
            after_login = await size()
            for issued in opened:
                token = issued.refresh_token
                for _ in range(REFRESHES):
                    token = (await auth.sessions.refresh(token, CLIENT)).refresh_token
            after_refresh = await size()
        finally:
            await auth.close()
    return {
        "sessions": SESSIONS,
        "refreshes_per_session": REFRESHES,
        "bytes_per_login": round((after_login - empty) / SESSIONS),
        "bytes_per_refresh": round((after_refresh - after_login) / (SESSIONS * REFRESHES)),
        "bytes_per_session_after_refreshes": round((after_refresh - empty) / SESSIONS),
    }


def run(postgres_url: str | None) -> dict[str, Any]:
    results = {"SQLite": asyncio.run(measure(None))}
    if postgres_url:
        results["PostgreSQL"] = asyncio.run(measure(postgres_url))
    return results
