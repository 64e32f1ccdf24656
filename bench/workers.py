"""`tessera serve --workers N`: refresh/s and protected GET/s with 1 and 2 workers, on SQLite
and on PostgreSQL, and what one core buys (the capacity model in docs/deploy.md).

Both servers run side by side, unpinned, and are measured one at a time in interleaved rounds
(medians reported), as `bench.compare` does. The load generators (the Python closed loop for
refreshes, wrk for GETs) run on the same cores: on a 2-core machine a second worker competes
with the load generator, so the 2-worker throughput understates two dedicated cores. The server's
own CPU time per request (its processes' user + system time over the phase) does not depend on
that sharing: requests per server CPU-second is the per-core capacity. PostgreSQL's own
processes are not counted in it (they run on the same machine here).

`python -m bench.workers [--quick] [--no-postgres]` runs this part alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.load import Connection, LoadResult
from bench.phases import Load, VirtualUser, get_phase, refresh_phase
from bench.postgres import scratch_database
from bench.server import tessera_serve
from bench.systems import TESSERA, Running, tree_cpu_seconds

WORKERS = (1, 2)
ROUNDS = 3
SECRET = "bench-workers-" + "s" * 32
SETTINGS = {
    "secret": SECRET,
    "argon2_time_cost": "1",  # logins only set the users up here; their cost is not measured
    "argon2_memory_kib": "8192",
    "login_limit_per_ip": "1000000",
    "login_limit_per_user": "1000000",
    "login_limit_per_user_total": "1000000",
    "login_max_in_flight": "1000000",
    "login_max_in_flight_per_ip": "1000000",
    "refresh_limit": "1000000",
}


@dataclass
class Measured:
    """One phase's rounds, and the server's CPU seconds over them."""

    rounds: list[LoadResult]
    cpu_seconds: float = 0.0

    @property
    def median(self) -> LoadResult:
        ordered = sorted(self.rounds, key=lambda r: r.per_second)
        middle = ordered[len(ordered) // 2]
        return replace(
            middle,
            p50_ms=statistics.median(r.p50_ms for r in self.rounds),
            p99_ms=statistics.median(r.p99_ms for r in self.rounds),
        )

    @property
    def per_cpu_second(self) -> float:
        """Successful requests per second of the server's CPU: what one core serves."""
        done = sum(r.requests - r.errors for r in self.rounds)
        return done / self.cpu_seconds if self.cpu_seconds else 0.0


@contextmanager
def measuring(server: Running, measured: Measured) -> Iterator[None]:
    before = tree_cpu_seconds(server.pid)
    try:
        yield
    finally:
        measured.cpu_seconds += tree_cpu_seconds(server.pid) - before


async def log_in(server: Running, users: int) -> list[VirtualUser]:
    vus = [VirtualUser() for _ in range(users)]

    async def one(vu: VirtualUser) -> None:
        connection = Connection(server.url)
        try:
            body = TESSERA.login_body(server.username, server.password)
            status, answer = await connection.request("POST", TESSERA.login_path, body)
            if status != 200:
                raise RuntimeError(f"login answered {status}")
            vu.access, vu.refresh = TESSERA.tokens(answer)
        finally:
            await connection.close()

    await asyncio.gather(*(one(vu) for vu in vus))
    return vus


@contextmanager
def started(workers: int, database: str | None) -> Iterator[Running]:
    settings = {**SETTINGS, "workers": str(workers)}
    if database:
        settings["database_url"] = database
    with tessera_serve(None, **settings) as s, tempfile.TemporaryDirectory() as tmp:
        running = Running(
            "tessera", f"{workers} worker(s)", s.database, s.url, s.pid, TESSERA,
            s.username, s.password, Path(tmp),
        )  # fmt: skip
        yield running


def measure(servers: dict[int, Running], load: Load) -> dict[int, dict[str, Measured]]:
    """Refresh rounds, then protected-GET rounds, interleaved across the servers."""
    vus = {n: asyncio.run(log_in(s, load.users)) for n, s in servers.items()}
    for n, server in servers.items():  # every worker serves a few before the timing starts
        asyncio.run(refresh_phase(server, replace(load, seconds=0.5), vus[n], name="warm-up"))
    results: dict[int, dict[str, Measured]] = {
        n: {"refresh": Measured([]), "protected": Measured([])} for n in servers
    }
    order = list(servers)
    for phase in ("refresh", "protected"):
        round_load = replace(load, seconds=load.seconds / 2)
        for i in range(ROUNDS):
            for n in order[i % len(order) :] + order[: i % len(order)]:
                server, measured = servers[n], results[n][phase]
                with measuring(server, measured):
                    if phase == "refresh":
                        result = asyncio.run(
                            refresh_phase(server, round_load, vus[n], name=f"refresh, {n}w")
                        )
                    else:
                        tokens = [vu.access for vu in vus[n]]
                        result, _ = get_phase(
                            server, TESSERA.protected_path, tokens, round_load, f"GET, {n}w"
                        )
                measured.rounds.append(result)
    return results


def run(quick: bool = False, postgres: bool = True) -> dict[str, Any]:
    """{"results": {database: {workers: phases}}, "markdown": ...}."""
    load = Load(seconds=3.0 if quick else 8.0, load_cpu=None)
    load_before = os.getloadavg()[0]
    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, range(os.cpu_count() or 1))  # servers and load: every core
    results: dict[str, dict[int, dict[str, Measured]]] = {}
    try:
        for db in ("SQLite", "PostgreSQL") if postgres else ("SQLite",):
            with ExitStack() as stack:
                servers = {}
                for n in WORKERS:
                    database = None
                    if db == "PostgreSQL":  # one each: `--demo` sets its own password
                        database = stack.enter_context(scratch_database())
                        if database is None:
                            break
                    servers[n] = stack.enter_context(started(n, database))
                else:
                    results[db] = measure(servers, load)
    finally:
        os.sched_setaffinity(0, affinity)
    return {
        "results": {
            db: {
                str(n): {
                    phase: {
                        **m.median.as_dict(),
                        "server_cpu_seconds": round(m.cpu_seconds, 2),
                        "per_server_cpu_second": round(m.per_cpu_second),
                        "rounds": [r.as_dict() for r in m.rounds],
                    }
                    for phase, m in phases.items()
                }
                for n, phases in by_workers.items()
            }
            for db, by_workers in results.items()
        },
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "markdown": markdown(results, load, (load_before, os.getloadavg()[0])),
    }


def markdown(
    results: dict[str, dict[int, dict[str, Measured]]],
    load: Load,
    load_average: tuple[float, float],
) -> str:
    cpus = os.cpu_count() or 1
    lines = [
        "## Workers: `tessera serve --workers N`",
        "",
        f"{cpus} cores. Servers unpinned; the load generators (Python closed loop for refresh,"
        f" {'wrk' if _has_wrk() else 'Python'} for GETs, {load.users} connections) run on the"
        " same cores: with 2 workers the server shares them with the load generator, so its"
        " throughput understates two dedicated cores. *Per server CPU-s* is requests per second"
        " of the server's own CPU time (user + system, all its processes): what one core"
        " serves, whatever else runs. On PostgreSQL the database's own CPU is not counted (it"
        f" runs on these cores too). Medians of {ROUNDS} rounds of {load.seconds / 2:g} s."
        f" Load average before / after: {load_average[0]:.1f} / {load_average[1]:.1f} (other"
        " work on the machine takes cores from both the server and the load generator).",
        "",
        "| database | workers | refresh/s | refresh p50 / p99 ms | refresh per server CPU-s "
        "| protected GET/s | GET p50 / p99 ms | GET per server CPU-s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for db, by_workers in results.items():
        for n, phases in by_workers.items():
            r, g = phases["refresh"], phases["protected"]
            rm, gm = r.median, g.median
            lines.append(
                f"| {db} | {n} | {rm.per_second:.0f} | {rm.p50_ms:.1f} / {rm.p99_ms:.1f} "
                f"| {r.per_cpu_second:.0f} | {gm.per_second:.0f} "
                f"| {gm.p50_ms:.1f} / {gm.p99_ms:.1f} | {g.per_cpu_second:.0f} |"
            )
    errors = [
        f"{db} {n} worker(s) {phase}: {sum(x.errors for x in m.rounds)}"
        for db, by_workers in results.items()
        for n, phases in by_workers.items()
        for phase, m in phases.items()
        if any(x.errors for x in m.rounds)
    ]
    if errors:
        lines += ["", "Errors (counted, not throughput): " + "; ".join(errors) + "."]
    return "\n".join(lines) + "\n"


def _has_wrk() -> bool:
    return shutil.which("wrk") is not None


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.workers")
    parser.add_argument("--quick", action="store_true", help="3 s phases")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    print(run(quick=args.quick, postgres=not args.no_postgres)["markdown"])


if __name__ == "__main__":
    main()
