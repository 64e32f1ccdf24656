"""One log line, not thousands, while the server is out of file descriptors.

When `accept()` fails for want of descriptors, asyncio's accept loop keeps trying for the rest
of its batch (uvicorn's backlog, 2048) and reports every failure with a traceback (CPython
gh-151615, fixed upstream in 2026; the Pythons this runs on have it): about 2 000 reports a
second for as long as the descriptors stay used up (139 000 log lines in 20 s in the review),
enough to fill a disk. The connections wait in the listen queue and are accepted once
descriptors free up; the server need say so only once in a while.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

logger = logging.getLogger("tessera.server")

ACCEPT_FAILED = "socket.accept() out of system resource"
EVERY = 10.0  # seconds between reports


class AcceptErrorLog:
    """A loop exception handler that reports failed accepts at most every `every` seconds,
    with how many there were, and passes everything else on."""

    def __init__(self, loop: asyncio.AbstractEventLoop, every: float = EVERY) -> None:
        self.loop = loop
        self.every = every
        self.previous = loop.get_exception_handler()
        self.failures = 0
        self.reported_at: float | None = None

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != ACCEPT_FAILED:
            if self.previous is not None:
                self.previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        self.failures += 1
        now = loop.time()
        if self.reported_at is None or now - self.reported_at >= self.every:
            logger.error(
                "cannot accept connections: %s (%d failed accepts since the last report);"
                " new connections wait in the listen queue",
                context.get("exception"),
                self.failures,
            )
            self.failures, self.reported_at = 0, now


def quiet_accept_errors() -> None:
    """Install `AcceptErrorLog` on the running loop."""
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(AcceptErrorLog(loop))
