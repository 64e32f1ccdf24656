"""`tessera serve --workers N`: N processes answering on one port, under a small supervisor.

The parent does once what must happen once — the secret file, the migrations, the first signing
key, the demo user — before any worker exists, so workers starting together never race on a
fresh data dir. It binds the socket, then only supervises: it starts the workers (fresh
interpreters, multiprocessing's spawn: nothing forked from a process with an event loop and
open database connections), each accepting on the shared socket as uvicorn's and gunicorn's
workers do; starts a new one in the slot of one that dies; and on SIGINT or SIGTERM sends each
one SIGTERM (uvicorn finishes the requests in flight), killing any still running after
`STOP_TIMEOUT`, or at once on a second signal.

Workers run in their own process group, so a terminal's Ctrl-C reaches the parent alone, which
passes on one SIGTERM (a second signal makes uvicorn skip its graceful part); and each watches a
pipe from the parent, so if the parent dies, even by SIGKILL, its workers stop too.

Worker 0 is the housekeeper (`tessera.maintenance`); `tessera_worker{index, pid}` in /metrics
says which process answered.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import socket
import time
from contextlib import suppress
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType

from prometheus_client import Gauge

from tessera.http.mount import Tessera
from tessera.http.server import build_server
from tessera.logs import configure as configure_logging
from tessera.settings import Settings

log = logging.getLogger("tessera.workers")

STOP_TIMEOUT = 30.0  # seconds workers have to finish in-flight requests after SIGTERM
QUICK_DEATH = 5.0  # a worker that exits sooner than this after it started died "quickly"
RESTART_DELAY = 1.0  # before starting again a slot whose worker died quickly
MAX_QUICK_DEATHS = 5  # in a row, in one slot: it cannot start (bad config, database down)


@dataclass
class Slot:
    """One worker's place: its index stays, its process is replaced when it dies."""

    index: int
    process: BaseProcess | None = None
    lifeline: Connection | None = None  # our end of the pipe the worker watches
    started_at: float = 0.0
    quick_deaths: int = 0
    restart_at: float | None = None


@dataclass
class Supervisor:
    settings: Settings
    sock: socket.socket
    log_level: str = "info"
    slots: list[Slot] = field(default_factory=list)
    stop_signal: int | None = None
    gave_up: bool = False

    def __post_init__(self) -> None:
        self.slots = [Slot(i) for i in range(self.settings.workers)]
        self._context = multiprocessing.get_context("spawn")

    def run(self) -> int:
        """Supervise until SIGINT/SIGTERM (exit code 0) or a slot that cannot start (1)."""
        wake_read, wake_write = socket.socketpair()
        wake_read.setblocking(False)
        wake_write.setblocking(False)

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            if self.stop_signal is not None:  # a second Ctrl-C: no more waiting
                self._kill_all()
            self.stop_signal = signum
            with suppress(OSError):
                wake_write.send(b"\0")

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for slot in self.slots:
                self._start(slot)
            while self.stop_signal is None and not self.gave_up:
                self._watch(wake_read)
            return 1 if self.gave_up else 0
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            wake_read.close()
            wake_write.close()

    def _watch(self, wake: socket.socket) -> None:
        """Wait for a worker to exit, a signal, or a delayed restart to fall due; act on it."""
        now = time.monotonic()
        due = [s.restart_at - now for s in self.slots if s.restart_at is not None]
        running = [s.process.sentinel for s in self.slots if s.process is not None]
        wait([*running, wake], timeout=max(0.0, min(due)) if due else None)
        with suppress(BlockingIOError):
            wake.recv(64)
        if self.stop_signal is not None:
            return
        now = time.monotonic()
        for slot in self.slots:
            if slot.process is not None and not slot.process.is_alive():
                self._died(slot, now)
            if slot.restart_at is not None and now >= slot.restart_at and not self.gave_up:
                self._start(slot)

    def _start(self, slot: Slot) -> None:
        reader, writer = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=run_worker,
            args=(self.settings, self.log_level, slot.index, self.sock, reader),
            name=f"tessera-worker-{slot.index}",
        )
        process.start()
        reader.close()  # the worker's end; ours, the writer, closes when we exit
        slot.process, slot.lifeline = process, writer
        slot.started_at, slot.restart_at = time.monotonic(), None
        log.info("worker %d started (pid %s)", slot.index, process.pid)

    def _died(self, slot: Slot, now: float) -> None:
        assert slot.process is not None
        process, pid, code = slot.process, slot.process.pid, slot.process.exitcode
        process.join()
        process.close()
        if slot.lifeline is not None:
            slot.lifeline.close()
        slot.process = slot.lifeline = None
        quick = now - slot.started_at < QUICK_DEATH
        slot.quick_deaths = slot.quick_deaths + 1 if quick else 0
        if slot.quick_deaths >= MAX_QUICK_DEATHS:
            log.error(
                "worker %d exited %d times in a row right after starting (last exit code %s); "
                "stopping",
                slot.index,
                slot.quick_deaths,
                code,
            )
            self.gave_up = True
            return
        log.warning(
            "worker %d (pid %s) exited with code %s; starting another", slot.index, pid, code
        )
        slot.restart_at = now + (RESTART_DELAY if quick else 0.0)

    def _kill_all(self) -> None:
        for slot in self.slots:
            if slot.process is not None and slot.process.pid is not None:
                with suppress(ProcessLookupError):
                    os.kill(slot.process.pid, signal.SIGKILL)

    def _stop_all(self) -> None:
        running = [s.process for s in self.slots if s.process is not None]
        for process in running:
            if process.is_alive() and process.pid is not None:
                with suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.warning(
                    "worker pid %s did not stop in %.0f s; killing it", process.pid, STOP_TIMEOUT
                )
                process.kill()
                process.join()
        for slot in self.slots:
            if slot.lifeline is not None:
                slot.lifeline.close()
            slot.process = slot.lifeline = None


def run_worker(
    settings: Settings, log_level: str, index: int, sock: socket.socket, lifeline: Connection
) -> None:
    """One worker: the standalone server on the shared socket, until SIGTERM or its parent
    is gone."""
    with suppress(OSError):
        os.setpgid(0, 0)  # out of the terminal's foreground group: see the module docstring
    configure_logging(settings.log_format, log_level)
    auth = Tessera(settings)
    auth.housekeeping = index == 0
    Gauge(
        "tessera_worker",
        "This process's slot under `serve --workers` and its pid (a replaced worker has a new pid)",
        ["index", "pid"],
        registry=auth.metrics.registry,
    ).labels(str(index), str(os.getpid())).set(1)
    server = build_server(auth, log_level=log_level)

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def parent_gone() -> None:  # the pipe's other end closed: EOF, readable
            loop.remove_reader(lifeline.fileno())
            server.should_exit = True

        loop.add_reader(lifeline.fileno(), parent_gone)
        await server.serve(sockets=[sock])

    with suppress(KeyboardInterrupt):
        asyncio.run(main())
