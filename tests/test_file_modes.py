"""The SQLite database is private whatever the umask and the data directory's mode (finding 8).

The attack: a data directory that already existed with mode 0755 (umask 022), where SQLite
used to create `tessera.db`, `-wal` and `-shm` 0644 — every local user could copy the password
hashes. The tests run as root, which reads anything, so they check the modes themselves.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tessera import Tessera
from tests.conftest import PASSWORD, make_settings
from tests.helpers import subprocess_env
from tests.live import COMMAND, LISTENING, serve

pytestmark = pytest.mark.anyio

DB_FILES = ("tessera.db", "tessera.db-wal", "tessera.db-shm")
DEMO_LOGIN = re.compile(r"demo login: username '([^']+)', password '([^']+)'")
CLI_TIMEOUT = 60.0


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The common umask, under which SQLite's own default mode is 0644."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o7777


def existing_dir(path: Path, permissions: int = 0o755) -> Path:
    path.mkdir(parents=True)
    path.chmod(permissions)
    return path


async def modes_after_a_write(
    service: Tessera, directory: Path, names: tuple[str, ...]
) -> dict[str, int]:
    """Start, write (so the WAL and shared-memory files exist), and read the modes while the
    database is open (SQLite removes `-wal` and `-shm` when the last connection closes)."""
    try:
        await service.start()
        await service.users.add("alice", PASSWORD)
        return {name: mode(directory / name) for name in names}
    finally:
        await service.close()


def warned(caplog: pytest.LogCaptureFixture, *fragments: str) -> bool:
    return any(all(f in r.getMessage() for f in fragments) for r in caplog.records)


def run_cli(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`tessera ARGS --data-dir D` under umask 022, as an operator would run it."""
    done = subprocess.run(
        [*COMMAND, *args, "--data-dir", str(data_dir)],
        input=stdin,
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=data_dir.parent,
        umask=0o022,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


async def test_database_files_are_private_in_a_data_dir_others_can_enter(
    tmp_path: Path, umask_022: None, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = existing_dir(tmp_path / "data", 0o755)
    caplog.set_level(logging.WARNING)
    modes = await modes_after_a_write(Tessera(make_settings(data_dir)), data_dir, DB_FILES)
    assert modes == dict.fromkeys(DB_FILES, 0o600)
    assert mode(data_dir / "secret.key") == 0o600
    # The operator's directory keeps its mode (it may hold more than Tessera's files), with a
    # warning: others see the names in it, not the contents.
    assert mode(data_dir) == 0o755
    assert warned(caplog, str(data_dir), "open to other users", "chmod 700")


async def test_a_sqlite_url_outside_the_data_dir_is_private_too(
    tmp_path: Path,
    umask_022: None,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workdir = existing_dir(tmp_path / "work", 0o755)
    monkeypatch.chdir(workdir)
    caplog.set_level(logging.WARNING)
    settings = make_settings(tmp_path / "data", database_url="sqlite:///elsewhere.db")
    names = ("elsewhere.db", "elsewhere.db-wal", "elsewhere.db-shm")
    modes = await modes_after_a_write(Tessera(settings), workdir, names)
    assert modes == dict.fromkeys(names, 0o600)
    assert warned(caplog, str(workdir), "open to other users")


async def test_an_existing_database_open_to_others_is_made_private(
    tmp_path: Path, umask_022: None, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    await modes_after_a_write(Tessera(make_settings(data_dir)), data_dir, ())
    # What earlier versions left behind: the database 0644, and side files of a process that
    # did not close cleanly.
    for name in DB_FILES:
        (data_dir / name).touch()
        (data_dir / name).chmod(0o644)
    caplog.set_level(logging.WARNING)
    service = Tessera(make_settings(data_dir))
    assert {name: mode(data_dir / name) for name in DB_FILES} == dict.fromkeys(DB_FILES, 0o600)
    try:
        await service.start()
        assert [u.username for u in await service.users.list()] == ["alice"]  # data intact
    finally:
        await service.close()
    for name in DB_FILES:
        assert warned(caplog, str(data_dir / name), "readable by other users", "now 0600")


@pytest.mark.parametrize("permissions", [0o775, 0o757, 0o1777], ids=oct)
@pytest.mark.parametrize("secret", [None, "configured-secret-0123456789"])
def test_a_data_dir_others_can_write_to_is_refused(
    tmp_path: Path, permissions: int, secret: str | None
) -> None:
    """Others could put their own database (their users, their keys) or secret in it."""
    data_dir = existing_dir(tmp_path / "data", permissions)
    with pytest.raises(PermissionError, match="writable by other users") as refused:
        Tessera(make_settings(data_dir, secret=secret))
    assert str(data_dir) in str(refused.value) and "chmod 700" in str(refused.value)
    assert sorted(data_dir.iterdir()) == []  # nothing was created in it


def test_cli_creates_a_private_database_in_an_existing_open_dir(tmp_path: Path) -> None:
    data_dir = existing_dir(tmp_path / "data", 0o755)
    added = run_cli(data_dir, "users", "add", "alice", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert mode(data_dir / "tessera.db") == 0o600
    assert mode(data_dir / "secret.key") == 0o600
    assert "open to other users" in added.stderr  # the warning reaches the operator


def test_cli_refuses_a_data_dir_others_can_write_to(tmp_path: Path) -> None:
    data_dir = existing_dir(tmp_path / "data", 0o777)
    listed = run_cli(data_dir, "users", "list")
    assert listed.returncode == 1
    assert listed.stderr.startswith("error: ") and "writable by other users" in listed.stderr
    assert not (data_dir / "tessera.db").exists()


@pytest.mark.slow
def test_serve_keeps_database_wal_and_shm_private(tmp_path: Path, umask_022: None) -> None:
    data_dir = existing_dir(tmp_path / "data", 0o755)
    with serve(data_dir, "--demo") as served:
        url = served.expect(LISTENING).group(1)
        username, password = served.expect(DEMO_LOGIN).groups()
        with httpx.Client(base_url=url, timeout=10) as http:
            body = {"username": username, "password": password, "transport": "body"}
            assert http.post("/auth/login", json=body).status_code == 200
        modes = {name: mode(data_dir / name) for name in DB_FILES}
    assert modes == dict.fromkeys(DB_FILES, 0o600)
