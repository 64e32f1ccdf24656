"""Operations: structured JSON logs with request ids and no secrets; audit events by user."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import httpx

from tests.helpers import subprocess_env
from tests.live import COMMAND, LISTENING, serve

DEMO_PASSWORD = re.compile(r"password '([^']+)'")


def test_json_logs_carry_request_ids_and_no_secrets(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    with serve(data_dir, "--demo", env={"TESSERA_LOG_FORMAT": "json"}) as served:
        url = served.expect(LISTENING).group(1)
        password = served.expect(DEMO_PASSWORD).group(1)
        login = httpx.post(
            f"{url}/auth/login",
            json={"username": "demo", "password": password, "transport": "body"},
            headers={"X-Request-ID": "req-42"},
        )
        tokens = login.json()
        httpx.post(f"{url}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        httpx.post(f"{url}/auth/refresh", json={"refresh_token": tokens["refresh_token"] + "x"})
        httpx.get(f"{url}/api/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        served.stop()
        logged = served.stderr_path.read_text()
    lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    access = [entry for entry in lines if entry["logger"] == "tessera.access"]
    assert any(e["request_id"] == "req-42" and e["path"] == "/auth/login" for e in access)
    assert {e["route"] for e in access} >= {"/auth/login", "/auth/refresh", "/api/me"}
    for secret in (password, tokens["refresh_token"], tokens["access_token"]):
        assert secret not in logged
    assert all(e["level"] in {"info", "warning", "error"} for e in lines)
    assert not [e for e in lines if e["logger"].startswith(("sqlalchemy", "aiosqlite"))]


def test_audit_events_by_user(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    env = subprocess_env()

    def tessera(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*COMMAND, *args, "--data-dir", str(data_dir)],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    assert tessera("users", "add", "alice", stdin="pw-123456\n").returncode == 0
    assert tessera("users", "add", "bob", stdin="pw-123456\n").returncode == 0
    with serve(data_dir, env={}) as served:
        url = served.expect(LISTENING).group(1)
        for name in ("alice", "bob"):
            tokens = httpx.post(
                f"{url}/auth/login",
                json={"username": name, "password": "pw-123456", "transport": "body"},
            ).json()
        httpx.post(f"{url}/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    listing = tessera("audit", "--user", "bob", "--json")
    events = [json.loads(line) for line in listing.stdout.splitlines()]
    assert [e["kind"] for e in events] == ["login", "logout"]
    assert {e["user"] for e in events} == {"bob"}
    assert tessera("audit", "--user", "nobody").returncode == 1
