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
from tessera.sealing import load_master_secret
from tessera.store.file_modes import private_sqlite_files
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


def run_cli(
    data_dir: Path,
    *args: str,
    stdin: str = "",
    umask: int = 0o022,
    cwd: Path | None = None,
    **env: str,
) -> subprocess.CompletedProcess[str]:
    """`tessera ARGS --data-dir D` under umask 022 (or `umask`), as an operator would run it,
    in D's parent directory (or `cwd`), with `env` on top of a clean environment."""
    done = subprocess.run(
        [*COMMAND, *args, "--data-dir", str(data_dir)],
        input=stdin,
        capture_output=True,
        text=True,
        env=subprocess_env(**env),
        cwd=cwd or data_dir.parent,
        umask=umask,
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


# a database given as a SQLite `file:` URI (review finding 13) --------------------------------

# {d} is the database's directory; it is created, so it must not exist yet
FILE_URIS = {
    "absolute": "sqlite:///file:{d}/t.db?mode=rwc&uri=true",
    "empty authority": "sqlite:///file://{d}/t.db?uri=true",
    "localhost": "sqlite:///file://localhost{d}/t.db?uri=true&cache=private",
    "relative": "sqlite:///file:{r}/t.db?uri=true",
}


@pytest.mark.parametrize("form", list(FILE_URIS))
def test_cli_keeps_a_file_uri_database_private(tmp_path: Path, form: str) -> None:
    """The reviewer's repro: `TESSERA_DATABASE_URL='sqlite:///file:…?mode=rwc&uri=true'
    tessera users add bob` left the database 0644. Here under umask 022, in a directory
    others can enter, its name %-encoded in the URI (a space, as `%20`)."""
    directory = existing_dir(tmp_path / "work" / "my db", 0o755)
    shown = str(directory).replace(" ", "%20")
    url = FILE_URIS[form].format(d=shown, r="my%20db")
    added = run_cli(
        tmp_path / "work" / "data",
        *("users", "add", "bob"),
        stdin=PASSWORD + "\n",
        TESSERA_DATABASE_URL=url,
    )
    assert added.returncode == 0, added.stderr
    assert mode(directory / "t.db") == 0o600
    assert f"{directory} is open to other users" in added.stderr
    assert not list(tmp_path.glob("work/file*"))  # no literal `file:…` path was made instead


async def test_a_file_uri_database_keeps_its_wal_and_shm_private(
    tmp_path: Path, umask_022: None
) -> None:
    directory = existing_dir(tmp_path / "db", 0o700)
    url = f"sqlite+aiosqlite:///file:{directory}/t.db?mode=rwc&uri=true"
    names = ("t.db", "t.db-wal", "t.db-shm")
    settings = make_settings(tmp_path / "data", database_url=url)
    modes = await modes_after_a_write(Tessera(settings), directory, names)
    assert modes == dict.fromkeys(names, 0o600)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:///file::memory:?cache=shared&uri=true",
        "sqlite+aiosqlite:///file:memdb1?mode=memory&cache=shared&uri=true",
        "sqlite+aiosqlite:///file:/nowhere/t.db?vfs=memdb&uri=true",
        "sqlite+aiosqlite:///:memory:",
    ],
)
def test_in_memory_databases_make_no_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.chdir(tmp_path)
    private_sqlite_files(url)
    assert sorted(tmp_path.iterdir()) == []
    assert not Path("/nowhere").exists()


def test_a_file_name_without_uri_true_is_a_plain_path(
    tmp_path: Path, umask_022: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without `uri=true`, SQLite opens `file:t.db` as that very name, in the working
    directory: so it is made private there."""
    monkeypatch.chdir(tmp_path)
    private_sqlite_files("sqlite+aiosqlite:///file:t.db")
    assert mode(tmp_path / "file:t.db") == 0o600


def test_a_read_only_file_uri_creates_nothing(tmp_path: Path, umask_022: None) -> None:
    """`mode=ro` and `mode=rw` ask SQLite not to create the database: nor does Tessera. An
    existing one is still made private."""
    private_sqlite_files(f"sqlite+aiosqlite:///file:{tmp_path}/new/t.db?mode=ro&uri=true")
    assert not (tmp_path / "new").exists()
    existing = tmp_path / "t.db"
    existing.touch(mode=0o644)
    private_sqlite_files(f"sqlite+aiosqlite:///file:{existing}?mode=rw&uri=true")
    assert mode(existing) == 0o600


# directories created under an open umask (review finding 14) ---------------------------------


def created_modes(top: Path) -> dict[str, int]:
    return {str(p.relative_to(top)): mode(p) for p in sorted(top.rglob("*")) if p.is_dir()}


def test_cli_creates_every_missing_directory_private_under_umask_000(tmp_path: Path) -> None:
    """The reviewer's repro: `(umask 000; tessera users add alice --data-dir fm/a/b/data)`
    left fm/a and fm/a/b 0777; a database URL's own directories likewise."""
    (tmp_path / "fm").mkdir(mode=0o755)
    (tmp_path / "fm").chmod(0o755)  # existing: neither loosened nor tightened
    database = tmp_path / "fm" / "x" / "y" / "t.db"
    added = run_cli(
        tmp_path / "fm" / "a" / "b" / "data",
        *("users", "add", "alice"),
        stdin=PASSWORD + "\n",
        umask=0o000,
        cwd=tmp_path,
        TESSERA_DATABASE_URL=f"sqlite:///{database}",
    )
    assert added.returncode == 0, added.stderr
    assert created_modes(tmp_path / "fm") == dict.fromkeys(
        ["a", "a/b", "a/b/data", "x", "x/y"], 0o700
    )
    assert mode(tmp_path / "fm") == 0o755
    assert mode(database) == 0o600


@pytest.mark.parametrize("umask", [0o000, 0o277], ids=oct)  # 277: mkdir alone makes 0500
def test_new_directories_are_private_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        load_master_secret(None, tmp_path / "s" / "a" / "data")
        private_sqlite_files(f"sqlite+aiosqlite:///{tmp_path}/p/q/t.db")
        private_sqlite_files(f"sqlite+aiosqlite:///file:{tmp_path}/u/v/t.db?uri=true")
    finally:
        os.umask(previous)
    created = ["p", "p/q", "s", "s/a", "s/a/data", "u", "u/v"]
    assert created_modes(tmp_path) == dict.fromkeys(created, 0o700)
    assert not mode(tmp_path / "s" / "a" / "data" / "secret.key") & 0o077
