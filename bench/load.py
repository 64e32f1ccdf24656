"""A closed-loop load generator: N virtual users, each sending its next request as soon as the
previous one answered, for a fixed time and at most a fixed number of requests."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx


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
        return self.requests / self.seconds if self.seconds else 0.0

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


# One virtual user's step: send one request, return whether it succeeded.
Step = Callable[[httpx.AsyncClient], Awaitable[bool]]


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
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        steps = [await make_step(i) for i in range(users)]
        started = time.perf_counter()
        deadline = started + seconds

        async def user(step: Step) -> None:
            nonlocal errors
            while time.perf_counter() < deadline and len(latencies) < max_requests:
                t0 = time.perf_counter()
                ok = await step(client)
                latencies.append(time.perf_counter() - t0)
                errors += not ok

        await asyncio.gather(*(user(step) for step in steps))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [0.0]
    return LoadResult(
        name=name,
        requests=len(latencies),
        errors=errors,
        seconds=elapsed,
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    )
