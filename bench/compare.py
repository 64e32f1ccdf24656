"""The side-by-side runs: the phases (`bench.phases`) run identically against every system
(see `bench.systems`), round by round.

Per system and database, on its default algorithm: login throughput; the race (10 simultaneous
refreshes of one token); protected GET throughput (wrk when installed, else the Python
generator), and for Tessera the same route unprotected, the same protected route with the
access log off, and refresh latency with and without a login storm (rounds alternating).
Refresh throughput and latency for every *variant* (each system on each of its algorithms, and
Tessera's DPoP-bound sessions): each virtual user always presents its newest refresh token;
rounds interleaved across the variants, with the server's CPU time per refresh in each round
and, after each round, the floors measured on the server's core: the signature's
(`bench.signing`) and the stack's (`bench.stack_floor`).
Resident memory of the server (all its processes) is sampled throughout.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from bench.load import Connection, LoadResult
from bench.peers.app_cpu import LINE_WRITE, LOG_OFF
from bench.phases import (
    Load,
    VirtualUser,
    get_phase,
    log_in,
    login_phase,
    race_phase,
    refresh_phase,
    storm_phase,
)
from bench.signing import floor
from bench.stack_floor import bare_server, sql_floor
from bench.systems import ALGORITHMS, Running, tree_cpu_seconds, tree_rss_bytes
from tessera.dpop import ProofKey


@dataclass(frozen=True)
class Variant:
    """One system on one algorithm (and for Tessera, sessions bound with DPoP or not)."""

    server: Running
    dpop: bool = False

    @property
    def main(self) -> bool:
        """The system as its users run it by default: the one every phase measures."""
        return not self.dpop and self.server.alg == ALGORITHMS[self.server.system][0]


def variant_name(system: str, alg: str, dpop: bool = False) -> str:
    return f"{system} {alg}" + (" DPoP" if dpop else "")


@dataclass
class Memory:
    peak: dict[str, int] = field(default_factory=dict)


@contextmanager
def sampling_rss(pid: int, memory: Memory, phase: str) -> Iterator[None]:
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            memory.peak[phase] = max(memory.peak.get(phase, 0), tree_rss_bytes(pid))
            stop.wait(0.25)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


REFRESH_ROUNDS = 3
STORM_ROUNDS = 3
GET_ROUNDS = 9  # the GET ratios are a few percent: more, shorter rounds than the refresh's


def spread(values: list[float]) -> dict[str, Any]:
    """A figure measured in rounds: its median, min and max, and the rounds."""
    ordered = sorted(values) or [0.0]
    return {
        "median": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "rounds": [round(v, 4) for v in values],
    }


def median_round(rounds: list[LoadResult]) -> LoadResult:
    """One result from interleaved rounds: the median round's throughput, and the median of
    the rounds' p50 and p99 (a round disturbed by other work on the machine moves neither)."""
    ordered = sorted(rounds, key=lambda r: r.per_second)
    middle = ordered[len(ordered) // 2]
    return LoadResult(
        name=middle.name,
        requests=middle.requests,
        errors=middle.errors,
        seconds=middle.seconds,
        p50_ms=statistics.median(r.p50_ms for r in rounds),
        p99_ms=statistics.median(r.p99_ms for r in rounds),
    )


def bare_round(bare: Running, load: Load, vus: list[VirtualUser]) -> float:
    """µs of server CPU per request of uvicorn alone (`bench.stack_floor`) over one refresh
    phase's load."""
    before = tree_cpu_seconds(bare.pid)
    result = asyncio.run(refresh_phase(bare, load, vus, name="uvicorn alone"))
    done = result.requests - result.errors
    if done <= 0:
        raise RuntimeError(f"the bare app answered no request ({result.as_dict()})")
    return (tree_cpu_seconds(bare.pid) - before) * 1e6 / done


def refresh_rounds(
    variants: dict[str, Variant],
    vus: dict[str, list[VirtualUser]],
    load: Load,
    memory: dict[str, Memory],
    server_cpu: int | None,
    sqlite: bool,
) -> tuple[dict[str, list[tuple[LoadResult, float]]], list[dict[str, float]]]:
    """`REFRESH_ROUNDS` rounds of refreshes interleaved across the variants (the order
    rotating each round, so a burst of other work on the machine lands on all alike), each
    with the server's CPU seconds over it; after each round, the floors measured on the
    server's core: one signature per algorithm (`bench.signing`), and the stack's
    (`bench.stack_floor`): uvicorn alone under the same load (`"http"`), and on SQLite a
    refresh's statements alone (`"sql"`), in µs. Returns ({variant: [(result, cpu seconds)]},
    [floors per round])."""
    order = list(variants)
    rounds: dict[str, list[tuple[LoadResult, float]]] = {name: [] for name in variants}
    floors: list[dict[str, float]] = []
    round_load = replace(load, seconds=load.seconds / 2)
    bare_users = [VirtualUser(refresh=secrets.token_urlsafe(32)) for _ in range(load.users)]
    with bare_server(server_cpu) as bare:
        for n in range(REFRESH_ROUNDS):
            for name in order[n % len(order) :] + order[: n % len(order)]:
                server = variants[name].server
                before = tree_cpu_seconds(server.pid)
                with sampling_rss(server.pid, memory[name], "refresh"):
                    result = asyncio.run(refresh_phase(server, round_load, vus[name]))
                rounds[name].append((result, tree_cpu_seconds(server.pid) - before))
            measured = {**floor(server_cpu), "http": bare_round(bare, round_load, bare_users)}
            if sqlite:
                measured["sql"] = sql_floor(server_cpu)
            floors.append(measured)
    return rounds, floors


def run_systems(
    servers: dict[str, Running], load: Load, server_cpu: int | None = None
) -> tuple[dict[str, dict[str, Any]], list[dict[str, float]]]:
    """Every phase against every running server ({variant name: server}). The refresh rounds,
    which the headline ratios compare, run across every variant (`refresh_rounds`); the other
    phases against each system's main variant (its default algorithm); Tessera also gets its
    own extra phases. Returns ({variant name: phases}, the signing floor measured after each
    refresh round)."""
    variants: dict[str, Variant] = {name: Variant(server) for name, server in servers.items()}
    tessera = next((n for n, v in variants.items() if v.server.system == "tessera"), None)
    if tessera is not None:  # DPoP-bound sessions on Tessera's main server
        server = variants[tessera].server
        variants[variant_name("tessera", server.alg, dpop=True)] = Variant(server, dpop=True)
    memory = {name: Memory() for name in variants}
    vus = {
        name: [VirtualUser(key=ProofKey.generate() if v.dpop else None) for _ in range(load.users)]
        for name, v in variants.items()
    }
    phases: dict[str, dict[str, Any]] = {
        name: {"alg": v.server.alg} for name, v in variants.items()
    }
    for name, v in variants.items():
        server = v.server
        if v.main:
            with sampling_rss(server.pid, memory[name], "login"):
                phases[name]["login"] = asyncio.run(login_phase(server, load, vus[name]))
            phases[name]["race"] = asyncio.run(race_phase(server, load))
        else:
            asyncio.run(log_in(server, vus[name]))
    sqlite = all(v.server.database == "SQLite" for v in variants.values())
    rounds, floors = refresh_rounds(variants, vus, load, memory, server_cpu, sqlite)
    for name, measured in rounds.items():
        results = [r for r, _ in measured]
        phases[name]["refresh"] = median_round(results)
        phases[name]["refresh_rounds"] = [
            {**r.as_dict(), "server_cpu_ms_per_refresh": round(_cpu_ms(r, cpu), 4)}
            for r, cpu in measured
        ]
    for name, v in variants.items():
        if not v.main:
            continue
        server = v.server
        tokens = [vu.access for vu in vus[name] if vu.access]
        phases[name].update(run_rest(server, load, tokens, memory[name]))
        if server.api.open_path:
            phases[name].update(storm_rounds(server, load, vus[name], memory[name]))
    for name in variants:
        phases[name]["peak_rss_bytes"] = memory[name].peak
    return phases, floors


def _cpu_ms(result: LoadResult, cpu_seconds: float) -> float:
    done = result.requests - result.errors
    return cpu_seconds * 1000 / done if done else 0.0


def storm_rounds(
    server: Running, load: Load, vus: list[VirtualUser], memory: Memory
) -> dict[str, Any]:
    """`STORM_ROUNDS` pairs of rounds, refresh alone and refresh during a login storm (which
    goes first alternating): `storm_ratio` is each pair's storm p99 / plain p99."""
    round_load = replace(load, seconds=load.seconds / 2)
    plain: list[LoadResult] = []
    storms: list[tuple[LoadResult, LoadResult]] = []
    for n in range(STORM_ROUNDS):
        for kind in ("plain", "storm") if n % 2 == 0 else ("storm", "plain"):
            if kind == "plain":
                plain.append(asyncio.run(refresh_phase(server, round_load, vus)))
            else:
                with sampling_rss(server.pid, memory, "login storm"):
                    storms.append(asyncio.run(storm_phase(server, round_load, vus)))
    return {
        "storm": median_round([r for r, _ in storms]),
        "storm_logins": median_round([logins for _, logins in storms]),
        "storm_plain": median_round(plain),
        "storm_ratio": spread(
            [s.p99_ms / max(p.p99_ms, 1e-9) for (s, _), p in zip(storms, plain, strict=True)]
        ),
    }


def _access_log(server: Running, on: bool) -> None:
    """Tessera's bench app turns its access log off on SIGUSR1, on again on SIGUSR2."""
    os.kill(server.pid, signal.SIGUSR2 if on else signal.SIGUSR1)
    time.sleep(0.05)  # the signal is handled by the server's event loop, between requests


async def _app_cpu_us(server: Running) -> dict[str, float]:
    """The median CPU time inside the app of the round's requests per path, in µs (the
    bench's Tessera counts it: `bench.peers.app_cpu`), and the count starts over."""
    connection = Connection(server.url)
    try:
        status, body = await connection.request("GET", "/bench/cpu")
    finally:
        await connection.close()
    if status != 200:
        raise RuntimeError(f"/bench/cpu answered {status}")
    return {path: float(v["median_us"]) for path, v in json.loads(body)["paths"].items()}


def _mixed_round(server: Running, tokens: list[str], load: Load) -> tuple[float, float, float]:
    """One round of GETs taking in turn the protected route, its unprotected twin and its twin
    behind a FastAPI dependency that does nothing (same requests), the access log turned off
    and on every 0.1 s meanwhile, so every kind sees the same seconds of the machine. From the
    server's CPU per request T (/proc) and the app's CPU per request of each path and log state
    (`bench.peers.app_cpu`): the check's own cost D (over the unprotected twin), D' (over the
    twin with a dependency: FastAPI's cost of any dependency left out) and the log line's L.
    Returns the unprotected twin's CPU over the protected route's, (T - D/2) / (T + D/2), the
    same with D', and the log line's share of a protected GET, L / T."""
    api = server.api
    assert api.open_path is not None and api.dependency_path is not None
    protected, unprotected, depends = api.protected_path, api.open_path, api.dependency_path
    done = threading.Event()

    def toggle() -> None:
        on = False
        while not done.wait(0.1):
            os.kill(server.pid, signal.SIGUSR2 if on else signal.SIGUSR1)
            on = not on

    toggler = threading.Thread(target=toggle)
    before = tree_cpu_seconds(server.pid)
    toggler.start()
    try:
        twins = (unprotected, depends)
        result, _ = get_phase(server, protected, tokens, load, "mixed", also=twins)
    finally:
        done.set()
        toggler.join()
        _access_log(server, True)
    per_request_us = _cpu_ms(result, tree_cpu_seconds(server.pid) - before) * 1000
    app = asyncio.run(_app_cpu_us(server))

    def over(twin: str) -> float:
        return statistics.mean(
            [app[protected] - app[twin], app[protected + LOG_OFF] - app[twin + LOG_OFF]]
        )

    # In the request, and its share of the write that took it out after the request.
    line = statistics.mean(
        [app[protected] - app[protected + LOG_OFF], app[unprotected] - app[unprotected + LOG_OFF]]
    ) + app.get(LINE_WRITE, 0.0)

    def ratio(check: float) -> float:
        return (per_request_us - check / 2) / (per_request_us + check / 2)

    return ratio(over(unprotected)), ratio(over(depends)), line / per_request_us


def run_rest(server: Running, load: Load, tokens: list[str], memory: Memory) -> dict[str, Any]:
    """Protected GETs, and for Tessera the same route unprotected and the protected route
    with the access log off: `GET_ROUNDS` rounds of a third of a phase each, the kinds in an
    order rotating each round, so a ratio compares neighbours in time rather than two phases a
    burst of other work on the machine may have split. Both ratios are taken from the server's
    CPU time per request in each round (what a saturated core's throughput follows, and what
    other work on the machine distorts least): `pair_ratio` is unprotected CPU / protected CPU
    (the protected route's throughput as a fraction of the unprotected one's), and
    `access_log_cost` 1 - (CPU with the log off / with it on), each over the rounds (median,
    min, max); the same from GET/s is kept beside them (`..._throughput`). Those cannot resolve a
    few percent on a busy machine: `pair_ratio_in_server` and `access_log_cost_in_server` take
    the check's and the log line's own cost from the app's CPU per request measured inside the
    server (`bench.peers.app_cpu`), over the protected GET's whole CPU. Every system gets the
    same protected rounds."""
    round_load = replace(load, seconds=load.seconds / 3)
    kinds: dict[str, tuple[str, list[str], str, bool]] = {
        "protected": (server.api.protected_path, tokens, "protected GET", True)
    }
    if server.api.open_path:
        # The same requests, Authorization header included: the routes differ by the check.
        kinds["open"] = (server.api.open_path, tokens, "same route unprotected", True)
        kinds["protected, log off"] = (
            server.api.protected_path,
            tokens,
            "protected GET, access log off",
            False,
        )
    rounds: dict[str, list[LoadResult]] = {kind: [] for kind in kinds}
    cpu: dict[str, list[float]] = {kind: [] for kind in kinds}
    app_us: dict[str, list[float]] = {kind: [] for kind in kinds}
    mixed: list[tuple[float, float, float]] = []
    tool = "-"
    order = list(kinds)
    for n in range(GET_ROUNDS):
        for kind in order[n % len(order) :] + order[: n % len(order)]:
            path, credentials, label, log_on = kinds[kind]
            if server.api.open_path:
                _access_log(server, log_on)
            before = tree_cpu_seconds(server.pid)
            with sampling_rss(server.pid, memory, label):
                result, tool = get_phase(
                    server, path, credentials, round_load, f"{label} ({server.database})"
                )
            cpu[kind].append(_cpu_ms(result, tree_cpu_seconds(server.pid) - before))
            rounds[kind].append(result)
            if server.api.open_path:
                key = path if log_on else path + LOG_OFF
                app_us[kind].append(asyncio.run(_app_cpu_us(server))[key])
        if server.api.open_path:
            mixed.append(_mixed_round(server, tokens, round_load))
    if server.api.open_path:
        _access_log(server, True)
    phases: dict[str, Any] = {kind: median_round(r) for kind, r in rounds.items()}
    phases["get_tool"] = tool
    phases["get_cpu_ms"] = {kind: spread(c) for kind, c in cpu.items()}
    if "open" in rounds:
        on, off, unprotected = cpu["protected"], cpu["protected, log off"], cpu["open"]
        phases["pair_ratio"] = spread(
            [o / max(p, 1e-9) for p, o in zip(on, unprotected, strict=True)]
        )
        phases["access_log_cost"] = spread(
            [1 - f / max(p, 1e-9) for p, f in zip(on, off, strict=True)]
        )
        # The check's and the log line's own cost, measured per request inside the server
        # within the same seconds (`_mixed_round`): what the ratios above, from rounds a
        # second or more apart, cannot resolve on a machine whose speed moves that fast.
        phases["app_cpu_us"] = {kind: spread(values) for kind, values in app_us.items()}
        phases["pair_ratio_in_server"] = spread([pair for pair, _, _ in mixed])
        phases["pair_ratio_beside_a_dependency"] = spread([pair for _, pair, _ in mixed])
        phases["access_log_cost_in_server"] = spread([log for _, _, log in mixed])
        protected = rounds["protected"]
        phases["pair_ratio_throughput"] = spread(
            [
                p.per_second / max(o.per_second, 1e-9)
                for p, o in zip(protected, rounds["open"], strict=True)
            ]
        )
        phases["access_log_cost_throughput"] = spread(
            [
                1 - p.per_second / max(q.per_second, 1e-9)
                for p, q in zip(protected, rounds["protected, log off"], strict=True)
            ]
        )
    return phases
