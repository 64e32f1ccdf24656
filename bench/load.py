"""A closed-loop load generator: N virtual users, each sending its next request as soon as the
previous one answered, for a fixed time and at most a fixed number of requests.

It speaks just enough HTTP/1.1 over asyncio streams (keep-alive, Content-Length bodies) to stay
out of the way: httpx's connection pool costs milliseconds per request at 32 connections, which
would measure the client instead of the server.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class LoadResult:
    name: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        """Successful requests per second (errors are not throughput)."""
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, float | int | str]:
        return {
            "name": self.name,
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.per_second, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
        }


class Connection:
    """One HTTP/1.1 connection: kept alive, or reopened when the server closes it after each
    response (gunicorn's sync workers do)."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        await self.connect()
        assert self._reader is not None
        payload = json.dumps(body).encode() if body is not None else b""
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n"
        self._writer.write(head.encode() + b"\r\n" + payload)
        try:
            status_line = await self._reader.readline()
            if not status_line:
                raise ConnectionResetError("closed before a response")
            status = int(status_line.split()[1])
            length, chunked, close = 0, False, False
            while (line := await self._reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                name, value = name.strip().lower(), value.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "transfer-encoding":
                    chunked = "chunked" in value
                elif name == "connection":
                    close = value == "close"
            content = await self._chunked() if chunked else await self._reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            await self.close()
            raise
        if close:
            await self.close()
        return status, content

    async def _chunked(self) -> bytes:
        assert self._reader is not None
        parts = []
        while size := int((await self._reader.readline()).split(b";")[0], 16):
            parts.append(await self._reader.readexactly(size))
            await self._reader.readline()
        await self._reader.readline()
        return b"".join(parts)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


# One virtual user's step: send one request on its connection, return whether it succeeded.
Step = Callable[[Connection], Awaitable[bool]]


async def closed_loop(
    name: str,
    base_url: str,
    make_step: Callable[[int], Awaitable[Step]],
    users: int,
    seconds: float,
    max_requests: int,
) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    steps = [await make_step(i) for i in range(users)]
    connections = [Connection(base_url) for _ in range(users)]
    started = time.perf_counter()
    deadline = started + seconds

    async def user(step: Step, connection: Connection) -> None:
        nonlocal errors
        while time.perf_counter() < deadline and len(latencies) < max_requests:
            t0 = time.perf_counter()
            try:
                ok = await step(connection)
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                ok = False  # refused, reset or garbled: an error, and the next request reconnects
            latencies.append(time.perf_counter() - t0)
            errors += not ok

    await asyncio.gather(*(user(s, c) for s, c in zip(steps, connections, strict=True)))
    elapsed = time.perf_counter() - started
    for connection in connections:
        await connection.close()
    ordered = sorted(latencies) or [0.0]
    return LoadResult(
        name=name,
        requests=len(latencies),
        errors=errors,
        seconds=elapsed,
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    )
