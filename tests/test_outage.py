"""PostgreSQL goes away mid-load and comes back: 503 with Retry-After meanwhile (never a 500,
never a lost or corrupted session), then service resumes by itself."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tessera import ManualClock, Tessera, create_app
from tests.conftest import PASSWORD, make_settings
from tests.helpers import login, refresh, until
from tests.proxy import CuttableProxy
from tests.services import SECRET, pg_url  # noqa: F401 - fixture

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def test_database_outage_and_recovery(tmp_path: Path, pg_url: str) -> None:  # noqa: F811
    parts = urlsplit(pg_url)
    proxy = CuttableProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    through_proxy = f"postgresql://{parts.username}@127.0.0.1:{proxy.port}{parts.path}"
    clock = ManualClock()
    service = Tessera(
        make_settings(tmp_path / "d", database_url=through_proxy, secret=SECRET), clock=clock
    )
    await service.start()
    await service.users.add("alice", PASSWORD)
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
        tokens = await login(client)
        token, access = tokens["refresh_token"], tokens["access_token"]

        proxy.cut()
        during = await asyncio.gather(
            *(refresh(client, token) for _ in range(5)),
            client.post("/auth/login", json={"username": "alice", "password": PASSWORD}),
            client.get("/readyz"),
            client.get("/auth/sessions", headers={"Authorization": f"Bearer {access}"}),
        )
        for response in during:
            assert response.status_code == 503, response.text
            assert response.json()["error"] == "unavailable"
            assert int(response.headers["retry-after"]) > 0

        proxy.restore()

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await until(ready, "readiness after the outage")
        # The session survived: the same refresh token (never rotated during the outage) works.
        resumed = await refresh(client, token)
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["session_id"] == tokens["session_id"]
        assert (await refresh(client, resumed.json()["refresh_token"])).status_code == 200
    await service.close()
    proxy.cut()
