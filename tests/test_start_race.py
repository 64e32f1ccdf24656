"""Several processes starting on one fresh data dir at the same instant (a service manager
starting two units, `tessera users add` in an entrypoint beside `serve`): one creates the
secret and migrates the database, the others wait and find both done."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

STARTER = """
import asyncio, os, sys, time
from pathlib import Path
from tessera.sealing import load_master_secret
from tessera.store import SQLStore
from tessera.store.migrate import upgrade

data, gate = Path(sys.argv[1]), Path(sys.argv[2])
(gate.parent / f"ready.{os.getpid()}").touch()
while not gate.exists():
    time.sleep(0.001)
secret = load_master_secret(None, data)

async def main() -> None:
    store = SQLStore.from_url(f"sqlite+aiosqlite:///{data / 'tessera.db'}")
    try:
        await upgrade(store.engine)
    finally:
        await store.close()

asyncio.run(main())
print(secret.decode())
"""
PROCESSES = 6


@pytest.mark.parametrize("trial", range(3))
def test_processes_starting_together_on_a_fresh_data_dir(tmp_path: Path, trial: int) -> None:
    data, gate = tmp_path / "data", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", STARTER, str(data), str(gate)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    deadline = time.monotonic() + 30
    while len(list(tmp_path.glob("ready.*"))) < PROCESSES and time.monotonic() < deadline:
        time.sleep(0.01)  # every one has imported and waits at the gate
    gate.touch()
    results = [starter.communicate(timeout=60) for starter in starters]
    failures = [err for (out, err), s in zip(results, starters, strict=True) if s.returncode]
    assert failures == []
    secrets = {out.strip() for out, _ in results}
    assert len(secrets) == 1 and len(secrets.pop()) == 64  # one secret, read whole by all
    assert (data / "secret.key").stat().st_mode & 0o777 == 0o600
