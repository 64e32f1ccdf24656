"""A PostgreSQL server of the test's own, to break on purpose: `initdb` in a fresh directory,
`pg_ctl` on a free port of 127.0.0.1, stopped (fast or immediate), restarted, its backends
terminated, its connections exhausted — what the machine's shared server cannot be put through.

PostgreSQL refuses to run as root: as root the server runs as the `postgres` system user, in a
directory under /tmp that user owns (pytest's tmp_path sits under a 0700 root directory).

The server never outlives the test process: `close()` in the fixture's finally, an atexit hook,
and a watchdog process that stops it when this process's end of a pipe closes (even on SIGKILL
or pytest-timeout's `os._exit`, which skip atexit).

From async code, call the blocking methods through `asyncio.to_thread`."""

from __future__ import annotations

import asyncio
import atexit
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote as urlquote

import asyncpg
import pytest

from tests.live import run_async
from tests.services import _unavailable

StopMode = Literal["smart", "fast", "immediate"]

START_TIMEOUT = 30  # seconds for the server to accept connections (crash recovery included)
STOP_TIMEOUT = 30  # seconds for `pg_ctl stop` to see the server gone
COMMAND_TIMEOUT = 60.0  # seconds for initdb and any other command
CONNECT_TIMEOUT = 5.0  # seconds for one of our own connections
LOG_LINES = 40  # lines of the server log quoted when something fails
BIND_ATTEMPTS = 3  # free ports tried when another process takes ours before the first start
SYSTEM_USER = "postgres"  # whom the server runs as when we are root
MAX_CONNECTIONS = 50  # the default max_connections of a new cluster

_open: set[PgCluster] = set()


class PgClusterError(RuntimeError):
    """The cluster failed to initialise, start or stop; the message quotes its log."""


def find_bindir() -> Path | None:
    """`pg_config --bindir` if pg_config is on PATH, else the newest /usr/lib/postgresql/*/bin."""
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        with suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            candidates.append(Path(out))
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(versions, key=_version, reverse=True)
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


def _version(bindir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name)) or (0,)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_server_user() -> list[str]:
    """The prefix that runs a command as the server's user: nothing unless we are root."""
    if os.geteuid() != 0:
        return []
    if runuser := shutil.which("runuser"):
        return [runuser, "-u", SYSTEM_USER, "--"]
    if setpriv := shutil.which("setpriv"):
        return [setpriv, f"--reuid={SYSTEM_USER}", f"--regid={SYSTEM_USER}", "--init-groups"]
    raise FileNotFoundError("neither runuser nor setpriv, to run PostgreSQL as a non-root user")


# Runs in its own session: waits for EOF on stdin (the test process gone, however it ended),
# then stops the server and removes its directory. argv: root dir, then the pg_ctl command.
WATCHDOG = """
import shutil, subprocess, sys
sys.stdin.read()
try:
    subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
finally:
    shutil.rmtree(sys.argv[1], ignore_errors=True)
"""


class PgCluster:
    """One PostgreSQL cluster in a temporary directory, superuser `postgres`, trust auth,
    listening on 127.0.0.1 only. Created stopped: call `start()` (or use `running_cluster`)."""

    def __init__(
        self, max_connections: int = MAX_CONNECTIONS, shared_buffers: str = "16MB"
    ) -> None:
        bindir = find_bindir()
        if bindir is None:
            _unavailable("PostgreSQL's server binaries", FileNotFoundError("initdb, pg_ctl"))
            raise AssertionError("unreachable")  # _unavailable skips or fails
        self.bindir: Path = bindir
        self._prefix: list[str] = []
        try:
            self._prefix = _as_server_user()
            if self._prefix:
                pwd.getpwnam(SYSTEM_USER)
        except (FileNotFoundError, KeyError) as exc:
            _unavailable("a non-root user to run PostgreSQL as", exc)
        self.max_connections = max_connections
        self.shared_buffers = shared_buffers
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="tessera-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.logfile = self.root / "postgres.log"
        self._started_once = False
        self._closed = False
        if self._prefix:
            shutil.chown(self.root, user=SYSTEM_USER, group=SYSTEM_USER)
        self._watchdog = subprocess.Popen(
            [
                sys.executable,
                "-c",
                WATCHDOG,
                str(self.root),
                *self._pg_ctl_argv("stop", "-m", "immediate"),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _open.add(self)
        try:
            self._initdb()
        except BaseException:
            self.close()
            raise

    # commands -------------------------------------------------------------------------------

    def _pg_ctl_argv(self, action: str, *args: str) -> list[str]:
        return [*self._prefix, str(self.bindir / "pg_ctl"), action, "-D", str(self.data), *args]

    def _run(
        self, argv: list[str], timeout: float = COMMAND_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _initdb(self) -> None:
        done = self._run(
            [
                *self._prefix,
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "--auth=trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ]
        )
        if done.returncode != 0:
            raise PgClusterError(f"initdb failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        self._configure()

    def _configure(self) -> None:
        """Our settings at the end of postgresql.conf (not on pg_ctl's command line, so that
        ALTER SYSTEM, which writes postgresql.auto.conf, can still override them)."""
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": str(self.max_connections),
            "superuser_reserved_connections": "0",  # `postgres` is a superuser: n means n
            "max_wal_senders": "0",  # must stay below max_connections, however small
            "shared_buffers": f"'{self.shared_buffers}'",
            "logging_collector": "off",
            "log_line_prefix": "'%m [%p] %a: '",
            "log_min_messages": "warning",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# tests/pg_cluster.py\n")
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    # life cycle -----------------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the server and wait (at most `timeout` s) until it accepts connections: after
        an immediate stop that includes crash recovery. On failure nothing is left running and
        the error quotes the log. Nothing if it already runs."""
        if self.running():
            return
        for attempt in range(BIND_ATTEMPTS):
            mark = self._log_size()
            done = self._run(
                self._pg_ctl_argv("start", "-w", "-t", str(int(timeout)), "-l", str(self.logfile)),
                timeout=timeout + COMMAND_TIMEOUT,
            )
            if done.returncode == 0:
                self._started_once = True
                return
            self._kill()
            taken = "Address already in use" in self._log_since(mark)
            if taken and not self._started_once and attempt + 1 < BIND_ATTEMPTS:
                self._set_port(free_port())  # lost the race for the port: before any URL was used
                continue
            raise PgClusterError(
                f"PostgreSQL did not start within {timeout} s (pg_ctl: {done.returncode})\n"
                f"{done.stdout}{done.stderr}--- log\n{self.log_tail()}"
            )

    def stop(self, mode: StopMode = "fast") -> None:
        """`pg_ctl stop -m mode`, waiting until the server is gone; nothing if it is stopped.
        `immediate` is a crash: no checkpoint, recovery on the next start."""
        if not self.running():
            return
        done = self._run(self._pg_ctl_argv("stop", "-m", mode, "-w", "-t", str(STOP_TIMEOUT)))
        if done.returncode != 0 and self.running():
            self._kill()
            raise PgClusterError(
                f"pg_ctl stop -m {mode} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
                f"--- log\n{self.log_tail()}"
            )

    def restart(self, mode: StopMode = "fast") -> None:
        self.stop(mode)
        self.start()

    def running(self) -> bool:
        return self.data.is_dir() and self._run(self._pg_ctl_argv("status")).returncode == 0

    def close(self) -> None:
        """Stop immediately and remove the directory. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        _open.discard(self)
        try:
            self._kill()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            if self._watchdog.stdin is not None:
                self._watchdog.stdin.close()  # the watchdog finds nothing left to do
            with suppress(subprocess.TimeoutExpired):
                self._watchdog.wait(timeout=COMMAND_TIMEOUT)

    def _kill(self) -> None:
        """An immediate stop that never raises: for the failure and clean-up paths."""
        if (self.data / "postmaster.pid").exists():
            with suppress(OSError, subprocess.SubprocessError):
                self._run(
                    self._pg_ctl_argv("stop", "-m", "immediate", "-w", "-t", str(STOP_TIMEOUT))
                )

    def _set_port(self, port: int) -> None:
        self.port = port
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {port}\n")

    def __enter__(self) -> PgCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # the log --------------------------------------------------------------------------------

    def _log_size(self) -> int:
        try:
            return self.logfile.stat().st_size
        except FileNotFoundError:
            return 0

    def _log_since(self, offset: int) -> str:
        try:
            with self.logfile.open("rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = LOG_LINES) -> str:
        return "\n".join(self._log_since(0).splitlines()[-lines:])

    # SQL ------------------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{urlquote(database, safe='')}"

    def sql(
        self, statement: str, *args: object, database: str = "postgres"
    ) -> list[dict[str, Any]]:
        """One statement as the superuser, on a connection of its own; its rows as dicts."""

        async def go() -> list[dict[str, Any]]:
            conn = await asyncpg.connect(self.url(database), timeout=CONNECT_TIMEOUT)
            try:
                return [dict(row) for row in await conn.fetch(statement, *args)]
            finally:
                await conn.close()

        return run_async(go())

    def create_database(self, name: str) -> str:
        """A new database; returns its URL."""
        self.sql(f"CREATE DATABASE {quote(name)}")
        return self.url(name)

    def backends(self, application_name: str | None = None) -> list[dict[str, Any]]:
        """Client backends other than the one asking (pid, application_name, datname, state,
        query), optionally only those of one application_name."""
        return self.sql(
            "SELECT pid, application_name, datname, state, query FROM pg_stat_activity"
            " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            " AND ($1::text IS NULL OR application_name = $1) ORDER BY pid",
            application_name,
        )

    def terminate(self, application_name: str | None = "tessera") -> int:
        """`pg_terminate_backend` on every client backend of that application_name (None: every
        one but ours); the number terminated. Tessera's pool connects as `tessera`, its LISTEN
        connection as `tessera-revocations`."""
        rows = self.sql(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM pg_stat_activity"
            " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            " AND ($1::text IS NULL OR application_name = $1)",
            application_name,
        )
        return int(rows[0]["n"])

    def set_max_connections(self, n: int) -> None:
        """ALTER SYSTEM and a fast restart (the setting needs one)."""
        self.sql(f"ALTER SYSTEM SET max_connections = {int(n)}")
        self.restart("fast")
        self.max_connections = n

    def hold_connections(
        self, n: int | None = None, application_name: str = "tessera-test-hold"
    ) -> HeldConnections:
        """Open `n` idle connections from another client and keep them until released; `None`:
        as many as the server accepts, i.e. exhaust max_connections."""
        return HeldConnections(self, n, application_name)

    def pid(self) -> int | None:
        """The postmaster's process id while it runs (to signal it directly), else None."""
        try:
            first = (self.data / "postmaster.pid").read_text().split("\n", 1)[0]
        except FileNotFoundError:
            return None
        return int(first) if first.strip().isdigit() and self.running() else None


class HeldConnections:
    """Idle connections kept open on an event loop of their own, until `release()` (or the end
    of a with block). `count` is how many are held."""

    def __init__(self, cluster: PgCluster, n: int | None, application_name: str) -> None:
        self.application_name = application_name
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="pg-held-connections", daemon=True
        )
        self._thread.start()
        self._conns: list[Any] = []
        try:
            self._call(self._open(cluster.url(), n))
        except BaseException:
            self.release()
            raise

    @property
    def count(self) -> int:
        return len(self._conns)

    def _call(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=COMMAND_TIMEOUT)

    async def _open(self, url: str, n: int | None) -> None:
        settings = {"application_name": self.application_name}
        while n is None or len(self._conns) < n:
            try:
                conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT, server_settings=settings)
            except asyncpg.TooManyConnectionsError:
                if n is None:
                    return
                raise
            self._conns.append(conn)

    async def _close(self) -> None:
        for conn in self._conns:
            with suppress(Exception):
                await conn.close(timeout=CONNECT_TIMEOUT)
        self._conns.clear()

    def release(self) -> None:
        if self._loop.is_closed():
            return
        if self._thread.is_alive():
            with suppress(Exception):
                self._call(self._close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=COMMAND_TIMEOUT)
        self._loop.close()

    def __enter__(self) -> HeldConnections:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


@contextmanager
def running_cluster(max_connections: int = MAX_CONNECTIONS) -> Iterator[PgCluster]:
    """A started cluster for the with block; closed (stopped, removed) afterwards."""
    cluster = PgCluster(max_connections=max_connections)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[PgCluster]:
    """One started cluster shared by the module's tests: a test that stops it or changes its
    settings puts it back (`start()`, `set_max_connections(MAX_CONNECTIONS)`) before it ends."""
    with running_cluster() as cluster:
        yield cluster


@atexit.register
def _close_all() -> None:
    for cluster in list(_open):
        cluster.close()
