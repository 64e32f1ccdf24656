"""The private PostgreSQL cluster the fault-injection tests break: it starts, answers, crashes
and recovers, counts what it terminates, can be filled up, and never outlives its owner."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import asyncpg
import pytest

from tests import pg_cluster as harness
from tests.helpers import wait_until
from tests.live import run_async
from tests.pg_cluster import PgCluster, PgClusterError, pg_cluster  # noqa: F401 - fixture

SMALL = 6  # max_connections for the exhaustion test: few connections to open
TERMINATED = 3  # backends the terminate test opens and kills
OWNER_EXIT = 10.0  # seconds for the SIGKILLed owner subprocess to be reaped
CLEANUP = 10.0  # seconds for the watchdog to stop the orphaned cluster and remove it


async def connect(url: str, **options: object) -> None:
    conn = await asyncpg.connect(url, timeout=harness.CONNECT_TIMEOUT, **options)
    await conn.close()


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_starts_and_answers(pg_cluster: PgCluster) -> None:  # noqa: F811
    assert pg_cluster.running()
    assert pg_cluster.sql("SELECT 1 + $1::int AS n", 1) == [{"n": 2}]
    assert pg_cluster.sql("SHOW listen_addresses") == [{"listen_addresses": "127.0.0.1"}]
    assert pg_cluster.sql("SHOW fsync") == [{"fsync": "on"}]  # crash tests need durability
    url = pg_cluster.create_database("harness_db")
    assert url == f"postgresql://postgres@127.0.0.1:{pg_cluster.port}/harness_db"
    run_async(connect(url))
    if os.geteuid() == 0:
        assert pg_cluster.sql("SELECT current_setting('data_directory') AS d")[0]["d"] == str(
            pg_cluster.data
        )
        assert Path(pg_cluster.root).owner() == harness.SYSTEM_USER


def test_immediate_stop_refuses_then_restart_recovers(pg_cluster: PgCluster) -> None:  # noqa: F811
    pg_cluster.sql("CREATE TABLE IF NOT EXISTS durable (n int)")
    pg_cluster.sql("INSERT INTO durable VALUES (42)")
    pg_cluster.stop("immediate")
    assert not pg_cluster.running() and pg_cluster.pid() is None
    with pytest.raises(OSError):  # connection refused: nothing listens on the port
        run_async(connect(pg_cluster.url()))

    pg_cluster.start()
    assert pg_cluster.sql("SELECT n FROM durable") == [{"n": 42}]  # committed before the crash
    assert "automatic recovery in progress" in pg_cluster.log_tail()
    pg_cluster.restart("fast")
    assert pg_cluster.sql("SELECT count(*) AS c FROM durable") == [{"c": 1}]


def test_terminate_counts_the_backends_it_kills(pg_cluster: PgCluster) -> None:  # noqa: F811
    assert pg_cluster.terminate("tessera") == 0
    with pg_cluster.hold_connections(TERMINATED, application_name="tessera") as held:
        assert held.count == TERMINATED
        assert len(pg_cluster.backends("tessera")) == TERMINATED
        with pg_cluster.hold_connections(1):  # another application_name: spared
            assert pg_cluster.terminate("tessera") == TERMINATED
            wait_until(lambda: not pg_cluster.backends("tessera"), "the terminated backends")
            assert len(pg_cluster.backends()) == 1
    wait_until(lambda: not pg_cluster.backends(), "the released connections to close")


def test_held_connections_exhaust_max_connections(pg_cluster: PgCluster) -> None:  # noqa: F811
    pg_cluster.set_max_connections(SMALL)
    try:
        assert pg_cluster.sql("SHOW max_connections") == [{"max_connections": str(SMALL)}]
        with pg_cluster.hold_connections() as held:
            assert held.count == SMALL
            with pytest.raises(asyncpg.TooManyConnectionsError):
                run_async(connect(pg_cluster.url()))
        wait_until(lambda: not pg_cluster.backends(), "the held connections to close")
        run_async(connect(pg_cluster.url()))
    finally:
        pg_cluster.set_max_connections(harness.MAX_CONNECTIONS)


def test_a_failed_start_leaves_nothing_running() -> None:
    cluster = PgCluster()
    try:
        with (cluster.data / "postgresql.conf").open("a") as conf:
            conf.write("shared_buffers = 'plenty'\n")
        with pytest.raises(PgClusterError, match="shared_buffers"):
            cluster.start()
        assert not cluster.running()
    finally:
        cluster.close()
    assert not cluster.root.exists()


@pytest.mark.slow
def test_the_cluster_dies_with_its_owner(tmp_path: Path) -> None:
    """Even a SIGKILLed owner (no finally, no atexit) leaves no server and no directory."""
    owner = textwrap.dedent(
        """
        import sys, time
        from tests.pg_cluster import PgCluster
        cluster = PgCluster()
        cluster.start()
        print(cluster.root, cluster.pid(), flush=True)
        sys.stdin.read()
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", owner],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line, "the owner exited before its cluster ran"
        root, pid = line.split()
        assert not gone(int(pid))
    finally:
        process.kill()
        process.wait(timeout=OWNER_EXIT)
    wait_until(lambda: gone(int(pid)), "the orphaned postmaster to stop", CLEANUP)
    wait_until(lambda: not Path(root).exists(), "the orphaned cluster's directory", CLEANUP)


def test_missing_binaries_skip_or_fail_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "find_bindir", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL"):
        PgCluster()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI needs it"):
        PgCluster()
