"""An ASGI application under uvicorn in a subprocess, as a user runs one: `uvicorn module:app`
on a free port, waited for with a deadline, stopped with SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.helpers import subprocess_env, wait_until

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1.0)
    except httpx.TransportError:
        return False
    return True


@contextmanager
def uvicorn(
    app: str, cwd: Path, env: dict[str, str] | None = None, log_dir: Path | None = None
) -> Iterator[str]:
    """`python -m uvicorn APP` in `cwd`; yields its base URL once it answers HTTP. Its log is
    `uvicorn.log` in `log_dir` (default: `cwd`), shown if it fails to start or stop. It serves
    a socket bound here and handed over (`--fd`): a port picked first and bound by uvicorn
    later could be taken in between by a test running beside this one."""
    log_path = (log_dir or cwd) / "uvicorn.log"
    with socket.socket() as sock, log_path.open("w") as log:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        port = sock.getsockname()[1]
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", app, "--fd", str(sock.fileno())],
            cwd=cwd,
            env=subprocess_env(**(env or {})),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(sock.fileno(),),
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: process.poll() is not None or answers(url), "uvicorn to answer", STARTUP_TIMEOUT
        )
        if process.poll() is not None:
            pytest.fail(f"uvicorn exited ({process.returncode}):\n{log_path.read_text()}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
            pytest.fail(f"uvicorn did not stop on SIGTERM:\n{log_path.read_text()}")
    # uvicorn re-raises the signal once it has shut down cleanly: -SIGTERM, not 0
    assert process.returncode in (0, -signal.SIGTERM), log_path.read_text()
    assert "Application shutdown complete" in log_path.read_text()
