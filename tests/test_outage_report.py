"""503s as an operator sees them: `tessera_unavailable_total{kind}` counts every one, and the
log names each kind of outage once per interval (with what the driver said, never SQL or its
parameters), however many requests it answered."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import httpx
import pytest
from sqlalchemy import exc as sa_exc

from tessera import Tessera, create_app
from tessera.errors import Unavailable
from tessera.http.outages import OutageReport
from tessera.metrics import Metrics
from tessera.store import DatabaseUnavailable
from tessera.store.faults import Kind, classify
from tests.conftest import PASSWORD, make_settings
from tests.helpers import login, refresh
from tests.read_only import read_only

pytestmark = pytest.mark.anyio

EVERY = 10.0


def counted(metrics: Metrics, kind: str) -> float:
    value = metrics.registry.get_sample_value("tessera_unavailable_total", {"kind": kind})
    return value or 0.0


def outage(kind_message: str) -> DatabaseUnavailable:
    wrapped = sa_exc.OperationalError(
        "UPDATE sessions SET secret_column = ?",
        ("parameter-value",),
        sqlite3.OperationalError(kind_message),
    )
    fault = classify(wrapped)
    assert isinstance(fault, DatabaseUnavailable)
    return fault


def test_each_answer_counts_and_each_kind_logs_once_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    metrics = Metrics()
    report = OutageReport(metrics, every=EVERY, clock=lambda: now[0])
    caplog.set_level(logging.ERROR, "tessera.http")
    for _ in range(5):
        report(outage("database is locked"))
    report(outage("disk I/O error"))
    report(Unavailable("too many logins in progress", 1))
    assert counted(metrics, Kind.BUSY) == 5
    assert counted(metrics, Kind.IO_ERROR) == 1
    assert counted(metrics, "overloaded") == 1
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "database unavailable (busy): OperationalError: database is locked",
        "database unavailable (io_error): OperationalError: disk I/O error",
    ]
    now[0] += EVERY
    caplog.clear()
    report(outage("database is locked"))
    assert [r.getMessage() for r in caplog.records] == [
        "database unavailable (busy): OperationalError: database is locked"
        " (and 4 more since the last report)"
    ]
    assert "parameter-value" not in caplog.text and "secret_column" not in caplog.text


async def test_readyz_and_the_metrics_of_a_server_whose_database_is_read_only(
    tmp_path: Path,
) -> None:
    """A database that answers but cannot write is not ready: /readyz says so (counted under
    its kind), and is ready again as soon as the file is writable, with the session intact."""
    settings = make_settings(tmp_path / "d")
    service = Tessera(settings)
    await service.start()
    await service.users.add("alice", PASSWORD)
    transport = httpx.ASGITransport(app=create_app(service))
    database = Path(settings.resolved_database_url().split("///", 1)[1])
    async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
        token = (await login(client))["refresh_token"]
        assert (await client.get("/readyz")).status_code == 200
        with read_only(database, database.parent):
            ready = await client.get("/readyz")
            assert ready.status_code == 503 and ready.headers["retry-after"] == "2"
            assert ready.json() == {
                "error": "unavailable",
                "error_description": "database unavailable",
            }
        assert (await client.get("/readyz")).status_code == 200
        assert (await refresh(client, token)).status_code == 200
        metrics = (await client.get("/metrics")).text
        assert 'tessera_unavailable_total{kind="read_only"} 1.0' in metrics
    await service.close()
