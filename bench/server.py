"""Start and stop a real `tessera serve` for a benchmark run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

LISTENING = re.compile(r"Tessera listening on (http://\S+)")
DEMO = re.compile(r"demo login: username '(\S+)', password '(\S+)'")


@dataclass(frozen=True)
class Server:
    url: str
    username: str
    password: str
    pid: int
    database: str


@contextmanager
def tessera_serve(cpu: int | None = None, **settings: str) -> Iterator[Server]:
    """`tessera serve --demo` on a free port in a scratch data dir (pinned to `cpu` if given),
    logging as shipped (info: the access log on), to `server.log` in the data dir."""
    with tempfile.TemporaryDirectory() as data_dir, Path(data_dir, "server.log").open("w") as log:
        env = {**os.environ, **{f"TESSERA_{k.upper()}": v for k, v in settings.items()}}
        command = [
            str(Path(sys.executable).with_name("tessera")),
            "serve",
            "--port",
            "0",
            "--demo",
            "--data-dir",
            data_dir,
        ]
        if cpu is not None and hasattr(os, "sched_setaffinity"):
            command = ["taskset", "-c", str(cpu), *command]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
        try:
            url = username = password = None
            deadline = time.monotonic() + 30
            assert process.stdout is not None
            while time.monotonic() < deadline and not (url and password):
                line = process.stdout.readline()
                if not line:
                    break
                if match := LISTENING.search(line):
                    url = match.group(1)
                if match := DEMO.search(line):
                    username, password = match.groups()
            if not (url and username and password):
                raise RuntimeError("tessera serve did not start")
            kind = "PostgreSQL" if "database_url" in settings else "SQLite"
            yield Server(url, username, password, process.pid, kind)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
