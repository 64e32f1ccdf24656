"""The CPU time each request spends inside the app, as the bench's Tessera measures it.

What a bearer check or an access-log line adds to a GET is a few microseconds: the server's
CPU per request from `/proc` (clock ticks, the whole process, a machine whose speed moves by
a fifth from one second to the next) cannot resolve it. A request's own thread CPU time can,
to the nanosecond, provided nothing else ran on the thread while it was in progress: a
request that overlapped another (one started while it was suspended) is not counted.
`GET /bench/cpu` answers the median per path since the last time it was asked, and starts
over; a request that ran with the access log off is counted under its path + `LOG_OFF`, so a
round that turns the log on and off as it goes compares the two within the same seconds. The
app's part includes the middleware, the access log and the writes to the socket, not
uvicorn's parsing. The access lines themselves are written after their requests, those of one
turn of the event loop together (`tessera.logs.LineHandler`): `LineWrites` counts the CPU of
those writes per line, reported as `LINE_WRITE`, for the bench to add to a line's cost.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from collections import defaultdict

from starlette.types import ASGIApp, Receive, Scope, Send

from tessera.logs import LineHandler

REPORT_PATH = "/bench/cpu"
LOG_OFF = " (log off)"
LINE_WRITE = "(an access line's write)"
ACCESS_LOG = logging.getLogger("tessera.access")


class LineWrites:
    """Thread CPU of `handler`'s writes of waiting access lines, and how many lines."""

    def __init__(self, handler: LineHandler) -> None:
        self.ns = 0
        self.lines = 0
        flush = handler.flush

        def counted() -> None:
            waiting = len(handler.waiting)
            started = time.thread_time_ns()
            flush()
            if waiting:
                self.ns += time.thread_time_ns() - started
                self.lines += waiting

        handler.flush = counted  # type: ignore[method-assign]

    def per_line_us(self) -> float:
        return self.ns / self.lines / 1000 if self.lines else 0.0


class AppCPU:
    def __init__(self, app: ASGIApp, writes: LineWrites | None = None) -> None:
        self.app = app
        self.writes = writes
        self.samples: dict[str, list[int]] = defaultdict(list)
        self.overlapped = 0
        self.active: list[list[bool]] = []  # one [clean] flag per request in progress

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == REPORT_PATH:
            await self.report(send)
            return
        key = scope["path"] + LOG_OFF if ACCESS_LOG.disabled else scope["path"]
        mine = [not self.active]
        for other in self.active:
            other[0] = False
        self.active.append(mine)
        started = time.thread_time_ns()
        try:
            await self.app(scope, receive, send)
        finally:
            spent = time.thread_time_ns() - started
            self.active.remove(mine)
            if mine[0]:
                self.samples[key].append(spent)
            else:
                self.overlapped += 1

    async def report(self, send: Send) -> None:
        paths = {
            path: {"median_us": statistics.median(ns) / 1000, "count": len(ns)}
            for path, ns in self.samples.items()
        }
        if self.writes is not None and self.writes.lines:
            paths[LINE_WRITE] = {
                "median_us": self.writes.per_line_us(),  # a mean: the writes are batched
                "count": self.writes.lines,
            }
            self.writes.ns = self.writes.lines = 0
        body = json.dumps({"paths": paths, "overlapped": self.overlapped}).encode()
        self.samples.clear()
        self.overlapped = 0
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
