"""A Tessera server on a real socket, in this process, on a clock the test moves."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from starlette.types import ASGIApp

from tessera import Tessera
from tessera.http.server import bind_socket, build_server, url_of
from tests.conftest import PASSWORD, make_settings

T = TypeVar("T")
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
POLL = 0.02


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
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not server.started:
            if not thread.is_alive():
                pytest.fail("the server thread ended before it started serving")
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not start within {STARTUP_TIMEOUT} s")
            time.sleep(POLL)
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=STOP_TIMEOUT)
        sock.close()
        assert not thread.is_alive(), "the server thread did not stop"
