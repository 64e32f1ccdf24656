"""Sessions ended from Django (`tessera.django.signout`), in a real project: when the user is
deactivated, demoted or given a new password, only once the saving transaction commits (a
rolled-back change ends nothing, a login inside the transaction does not survive it); from
any directory, since Django refuses to start unless the settings say where Tessera's files
are; and loudly — never creating a database, a secret or a key — when Tessera's database is
not there."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.asgi_process import uvicorn
from tests.helpers import assert_error, subprocess_env
from tests.services import SECRET, fresh_database
from tests.test_django_project import HTTP_TIMEOUT, PASSWORD, django_project, login, run

pytestmark = pytest.mark.slow

# A login while the deactivating transaction is still open, then the commit.
INSIDE = f"""
import os

import httpx
from django.contrib.auth.models import User
from django.db import transaction

with transaction.atomic():
    alice = User.objects.get(username="alice")
    alice.is_active = False
    alice.save()
    body = {{"username": "alice", "password": {PASSWORD!r}, "transport": "body"}}
    answer = httpx.post(os.environ["SITE"] + "/auth/login", json=body)
    print(answer.status_code, answer.json().get("refresh_token"))
"""

ROLLED_BACK = """
from django.contrib.auth.models import User
from django.db import transaction

with transaction.atomic():
    sam = User.objects.get(username="sam")
    sam.is_active = False
    sam.save()
    transaction.set_rollback(True)
"""

SUPERUSER = f"""
from django.contrib.auth.models import User

User.objects.create_superuser("root", password={PASSWORD!r})
"""


def change(username: str, statements: str) -> str:
    return (
        "from django.contrib.auth.models import User\n"
        f"user = User.objects.get(username={username!r})\n{statements}\nuser.save()\n"
    )


END_SESSIONS = """
from django.contrib.auth.models import User
from tessera.django import end_sessions

print(end_sessions(User.objects.get(username="alice")))
"""


def refresh(http: httpx.Client, token: str) -> httpx.Response:
    return http.post("/auth/refresh", json={"refresh_token": token})


def still_signed_in(http: httpx.Client, token: str) -> str:
    answer = refresh(http, token)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["refresh_token"])


def test_sessions_end_when_the_change_commits(tmp_path: Path) -> None:
    project, _ = django_project(tmp_path / "site", None)
    manage = [sys.executable, str(project / "manage.py"), "shell", "-c"]
    env = {"TESSERA_SECRET": SECRET}
    run([*manage, SUPERUSER], project, env)
    with (
        uvicorn("mysite.asgi:application", project, env, log_dir=project.parent) as url,
        httpx.Client(base_url=url, timeout=HTTP_TIMEOUT) as http,
    ):
        sessions = {name: login(http, name).json() for name in ("sam", "eve", "root")}
        tokens = {name: tokens["refresh_token"] for name, tokens in sessions.items()}
        assert sessions["root"]["access_token"]

        # Run from another directory: the settings say where Tessera's database is.
        inside = run([*manage, INSIDE], tmp_path, {**env, "SITE": url}).split()
        assert inside[-2] == "200", inside
        assert_error(refresh(http, inside[-1]), 401, "invalid_grant")

        run([*manage, ROLLED_BACK], tmp_path, env)
        tokens["sam"] = still_signed_in(http, tokens["sam"])

        run([*manage, change("sam", "user.first_name = 'Sam'")], tmp_path, env)  # nothing lost
        tokens["sam"] = still_signed_in(http, tokens["sam"])

        run([*manage, change("root", "user.is_superuser = False")], tmp_path, env)
        assert_error(refresh(http, tokens["root"]), 401, "invalid_grant")
        assert login(http, "root").json()["access_token"]  # signs in again, as staff now

        run([*manage, change("sam", "user.is_staff = False")], tmp_path, env)
        assert_error(refresh(http, tokens["sam"]), 401, "invalid_grant")

        run([*manage, change("eve", "user.set_password('a new one')")], tmp_path, env)
        assert_error(refresh(http, tokens["eve"]), 401, "invalid_grant")


def manage_py(project: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(project / "manage.py"), *args],
        cwd=cwd,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_django_refuses_to_start_without_an_absolute_place_for_tessera(tmp_path: Path) -> None:
    project, _ = django_project(tmp_path / "site", None)
    with (project / "mysite" / "settings.py").open("a") as file:
        file.write('\nTESSERA.pop("data_dir")\n')

    for env in ({}, {"TESSERA_DATA_DIR": ".tessera"}, {"TESSERA_DATABASE_URL": "sqlite:///t.db"}):
        done = manage_py(project, project, "check", **env)
        out = done.stdout + done.stderr
        assert done.returncode != 0 and "ImproperlyConfigured" in out, (env, out)
        assert "data_dir" in out and "absolute" in out, out
    done = manage_py(project, project, "check", TESSERA_DATA_DIR=str(tmp_path / "tessera"))
    assert done.returncode == 0, done.stderr
    assert not (project / ".tessera").exists()


def test_end_sessions_creates_nothing_and_says_why(tmp_path: Path) -> None:
    project, _ = django_project(tmp_path / "site", None)  # never served: no Tessera database
    done = manage_py(project, tmp_path, "shell", "-c", END_SESSIONS)
    assert done.returncode != 0, done.stdout
    assert "no Tessera database" in done.stderr, done.stderr
    assert not (project / ".tessera").exists()

    with fresh_database() as database:  # an empty PostgreSQL database
        env = {"TESSERA_DATABASE_URL": database, "TESSERA_SECRET": SECRET}
        done = manage_py(project, tmp_path, "shell", "-c", END_SESSIONS, **env)
        assert done.returncode != 0, done.stdout
        assert "no Tessera tables" in done.stderr, done.stderr
        assert asyncio.run(tables(database)) == []  # nothing migrated


async def tables(database: str) -> list[str]:
    connection = await asyncpg.connect(database)
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return [row["tablename"] for row in rows]
    finally:
        await connection.close()
