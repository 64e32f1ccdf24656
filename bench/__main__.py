"""`make bench`: quick measurements of the auth server, each as a ratio to a same-run baseline.

1. refresh throughput over real HTTP against `tessera serve` (SQLite), with GET /healthz on the
   same server and the same load generator as the baseline;
2. `bench.verify`: verify cost per algorithm against joserfc, PyJWT and the raw primitive.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import warnings
from pathlib import Path

import httpx

import bench.login_timing
import bench.verify
from bench.load import Connection, LoadResult, Step, closed_loop
from bench.postgres import scratch_database
from bench.server import Server, tessera_serve

RESULTS = Path(__file__).with_name("results")
USERS = 32
SECONDS = 8.0
MAX_REQUESTS = 20_000


async def measure_http(
    server: Server, baseline_too: bool = True
) -> tuple[LoadResult | None, LoadResult]:
    async def health_step(_: int) -> Step:
        async def step(connection: Connection) -> bool:
            status, _ = await connection.request("GET", "/healthz")
            return status == 200

        return step

    async def refresh_step(_: int) -> Step:
        async with httpx.AsyncClient(base_url=server.url) as login_client:
            response = await login_client.post(
                "/auth/login",
                json={
                    "username": server.username,
                    "password": server.password,
                    "transport": "body",
                },
            )
        token = response.json()["refresh_token"]

        async def step(connection: Connection) -> bool:
            nonlocal token
            status, body = await connection.request(
                "POST", "/auth/refresh", {"refresh_token": token}
            )
            if status != 200:
                return False
            token = json.loads(body)["refresh_token"]
            return True

        return step

    baseline = (
        await closed_loop("GET /healthz", server.url, health_step, USERS, SECONDS, MAX_REQUESTS)
        if baseline_too
        else None
    )
    refresh = await closed_loop(
        f"POST /auth/refresh ({server.database})",
        server.url,
        refresh_step,
        USERS,
        SECONDS,
        MAX_REQUESTS,
    )
    return baseline, refresh


def main() -> None:
    RESULTS.mkdir(exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc's RFC 9864 note on the EdDSA name
        verify = bench.verify.run()
    timing = bench.login_timing.run()
    cpu = 1 if (os.cpu_count() or 1) > 1 else None
    if cpu is not None:
        os.sched_setaffinity(0, {0})  # the load generator on one core, the server on the other
    cheap = {"argon2_memory_kib": "8192", "argon2_time_cost": "1", "refresh_limit": "1000000"}
    with tessera_serve(cpu=cpu, **cheap) as server:
        baseline, refresh = asyncio.run(measure_http(server))
    phases = [baseline, refresh]
    with scratch_database() as database:
        if database is not None:
            on_pg = {**cheap, "database_url": database, "secret": "bench-" + "s" * 32}
            with tessera_serve(cpu=cpu, **on_pg) as server:
                _, pg_refresh = asyncio.run(measure_http(server, baseline_too=False))
            phases.append(pg_refresh)
    report = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "users": USERS,
        "server_cpu": cpu,
        "http": [p.as_dict() for p in phases],
        "refresh_vs_healthz": refresh.per_second / baseline.per_second,
        "verify": verify["results"],
        "login_timing": {k: v for k, v in timing.items() if k != "markdown"},
    }
    lines = [
        "# Tessera quick benchmark",
        "",
        f"{report['when']}; server pinned to CPU {cpu}; "
        f"{USERS} closed-loop users, {SECONDS:.0f} s per phase.",
        "",
        "| phase | requests | errors | req/s | p50 ms | p99 ms |",
        "| --- | --- | --- | --- | --- | --- |",
        *(
            f"| {r.name} | {r.requests} | {r.errors} | {r.per_second:.0f} "
            f"| {r.p50_ms:.1f} | {r.p99_ms:.1f} |"
            for r in phases
        ),
        "",
        f"- refresh throughput / healthz throughput: **{report['refresh_vs_healthz']:.2f}**",
        "",
        verify["markdown"],
        "",
        timing["markdown"],
    ]
    (RESULTS / "quick.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "quick.json").write_text(json.dumps(report, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
