"""The bench's stack floor (`bench.stack_floor`) measures what it says: the bare app answers a
refresh as Tessera's server does (the same headers, the token answer's shape) with nothing
behind it, and the SQL floor runs Tessera's own refresh statements on a database its
migrations made (a statement that no longer fits the schema fails it)."""

from __future__ import annotations

import json

import httpx
import pytest
from bench.stack_floor import bare_server, sql_cost
from fastapi.testclient import TestClient

from tessera import Settings, Tessera
from tessera.http.app import create_app
from tessera.http.models import TokenResponse

pytestmark = pytest.mark.slow


def tessera_refresh_headers(tmp_path) -> set[str]:
    auth = Tessera(Settings(data_dir=tmp_path, secret="s" * 32))
    with TestClient(create_app(auth)) as client:
        password = "correct-horse-battery-staple"
        client.portal.call(auth.users.add, "ada", password)
        login = client.post(
            "/auth/login", json={"username": "ada", "password": password, "transport": "body"}
        )
        refreshed = client.post(
            "/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
        )
        assert refreshed.status_code == 200
        return set(refreshed.headers)


def test_bare_app_answers_a_refresh_as_tesseras_server_does(tmp_path) -> None:
    with bare_server(None) as bare:
        response = httpx.post(f"{bare.url}/auth/refresh", json={"refresh_token": "r-123"})
    assert response.status_code == 200
    body = response.json()
    assert body["refresh_token"] == "r-123"
    assert set(body) == set(TokenResponse.model_fields)  # the contract's token answer
    assert len(response.content) == len(json.dumps(body, separators=(",", ":")))
    # uvicorn adds `date` to both; the in-process client does not run uvicorn.
    assert set(response.headers) - {"date"} == tessera_refresh_headers(tmp_path)


def test_sql_floor_runs_the_refresh_statements() -> None:
    assert 0 < sql_cost(batches=2, refreshes=20) < 100_000
