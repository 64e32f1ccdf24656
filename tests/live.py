"""A Tessera server on a real socket, in this process, on a clock the test moves."""

from __future__ import annotations

import asyncio
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, NoReturn, TypeVar

import pytest
from starlette.types import ASGIApp

from tessera import Tessera
from tessera.http.server import bind_socket, build_server, url_of
from tests.conftest import PASSWORD, make_settings
from tests.helpers import subprocess_env, wait_until

T = TypeVar("T")
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def add_user(data_dir: Path, username: str, role: str = "user") -> None:
    """Through a separate service on the same data dir, closed before the server starts, so
    the server's own service opens its database on the server's event loop."""

    async def go() -> None:
        service = Tessera(make_settings(data_dir))
        try:
            await service.start()
            await service.users.add(username, PASSWORD, role)
        finally:
            await service.close()

    run_async(go())


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` in a worker thread: works even where this thread already runs a loop
    (Playwright's sync API does)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@contextmanager
def in_process_server(service: Tessera, app: ASGIApp | None = None) -> Iterator[str]:
    """Serve `app` (default: the standalone app) over HTTP on 127.0.0.1; yields the base URL."""
    sock = bind_socket("127.0.0.1", 0)
    server = build_server(service, app=app, log_level="warning", access_log=False)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="tessera-test-server", daemon=True
    )
    thread.start()
    try:
        wait_until(
            lambda: server.started or not thread.is_alive(), "the server to start", STARTUP_TIMEOUT
        )
        if not server.started:
            pytest.fail("the server thread ended before it started serving")
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=STOP_TIMEOUT)
        sock.close()
        assert not thread.is_alive(), "the server thread did not stop"


# `tessera serve` as a subprocess -----------------------------------------------------------

SCRIPT = Path(sys.executable).with_name("tessera")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "tessera"]
LISTENING = re.compile(r"Tessera listening on (http://\S+)")


class Served:
    """A running `tessera serve`: its stdout, line by line, with a deadline on every wait."""

    def __init__(self, process: subprocess.Popen[str], stderr_path: Path) -> None:
        self.process = process
        self.stderr_path = stderr_path
        self.seen: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        self._pump = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._pump.start()

    def _read(self, stream: IO[str]) -> None:
        # Keep draining after the start-up lines too, so the access log never fills the pipe.
        for line in stream:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def expect(self, pattern: re.Pattern[str], timeout: float = STARTUP_TIMEOUT) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail(f"no line matching {pattern.pattern!r} within {timeout} s")
            try:
                line = self._lines.get(timeout=min(left, 0.05))
            except queue.Empty:
                continue
            if line is None:
                self.fail(f"the server exited before printing {pattern.pattern!r}")
            self.seen.append(line)
            if match := pattern.search(line):
                return match

    def fail(self, why: str) -> NoReturn:
        stdout = "\n".join(self.seen)
        stderr = self.stderr_path.read_text(errors="replace")
        pytest.fail(f"{why}\n--- stdout\n{stdout}\n--- stderr\n{stderr}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
                raise
        self._pump.join(timeout=STOP_TIMEOUT)
        return self.process.returncode


@contextmanager
def serve(
    data_dir: Path,
    *args: str,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[Served]:
    """`tessera serve --port 0 --data-dir D ARGS` in a subprocess (extra `env` on top;
    `preexec_fn` runs in the child before it starts, e.g. to lower its limits)."""
    env = subprocess_env(**(env or {}))
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    stderr_path = data_dir.parent / f"{data_dir.name}.stderr"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [*COMMAND, "serve", "--port", "0", "--data-dir", str(data_dir), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            bufsize=1,
            cwd=data_dir.parent,
            env=env,
            preexec_fn=preexec_fn,
        )
    served = Served(process, stderr_path)
    try:
        yield served
    finally:
        served.stop()
