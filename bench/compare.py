"""The side-by-side phases, run identically against every system (see `bench.systems`).

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
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.load import Connection, LoadResult, Step, closed_loop
from bench.peers.app_cpu import LINE_WRITE, LOG_OFF
from bench.signing import floor
from bench.stack_floor import bare_server, sql_floor
from bench.systems import ALGORITHMS, Running, tree_cpu_seconds, tree_rss_bytes
from tessera.dpop import ProofKey


@dataclass(frozen=True)
class Load:
    users: int = 32
    login_users: int = 8
    seconds: float = 8.0
    max_requests: int = 20_000
    race: int = 10
    storm_users: int = 8
    load_cpu: int | None = 0


@dataclass
class VirtualUser:
    access: str = ""
    refresh: str = ""
    key: ProofKey | None = None  # a DPoP-bound session's key: a fresh proof on every refresh


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


def _proof(server: Running, key: ProofKey | None, path: str) -> dict[str, str]:
    if key is None:
        return {}
    return {"DPoP": key.proof("POST", server.url + path, now=time.time())}


async def _login(
    server: Running, connection: Connection, key: ProofKey | None = None
) -> tuple[int, bytes]:
    return await connection.request(
        "POST",
        server.api.login_path,
        server.api.login_body(server.username, server.password),
        _proof(server, key, server.api.login_path),
    )


async def _refresh(
    server: Running, connection: Connection, token: str, key: ProofKey | None = None
) -> tuple[int, bytes]:
    body, headers = server.api.refresh_request(token)
    headers = {**headers, **_proof(server, key, server.api.refresh_path)}
    return await connection.request("POST", server.api.refresh_path, body, headers)


async def login_phase(server: Running, load: Load, vus: list[VirtualUser]) -> LoadResult:
    async def make(i: int) -> Step:
        async def step(connection: Connection) -> bool:
            status, body = await _login(server, connection)
            if status != 200:
                return False
            vus[i].access, vus[i].refresh = server.api.tokens(body)
            return True

        return step

    result = await closed_loop(
        f"login ({server.database})",
        server.url,
        make,
        min(load.login_users, len(vus)),
        load.seconds,
        load.max_requests,
    )

    await log_in(server, vus)
    return result


async def log_in(server: Running, vus: list[VirtualUser]) -> None:
    """Every virtual user without a session logs in once (with a proof if it has a key)."""

    async def top_up(vu: VirtualUser) -> None:
        connection = Connection(server.url)
        try:
            status, body = await _login(server, connection, vu.key)
            if status == 200:
                vu.access, vu.refresh = server.api.tokens(body)
        finally:
            await connection.close()

    await asyncio.gather(*(top_up(vu) for vu in vus if not vu.refresh))


async def refresh_phase(
    server: Running, load: Load, vus: list[VirtualUser], name: str = "refresh"
) -> LoadResult:
    async def make(i: int) -> Step:
        async def step(connection: Connection) -> bool:
            status, body = await _refresh(server, connection, vus[i].refresh, vus[i].key)
            if status != 200:
                return False
            vus[i].access, vus[i].refresh = server.api.tokens(body)
            return True

        return step

    return await closed_loop(
        f"{name} ({server.database})",
        server.url,
        make,
        load.users,
        load.seconds,
        load.max_requests,
    )


async def storm_phase(
    server: Running, load: Load, vus: list[VirtualUser]
) -> tuple[LoadResult, LoadResult]:
    """Refreshes as in `refresh_phase` while `storm_users` more users log in non-stop."""
    storm_vus = [VirtualUser() for _ in range(load.storm_users)]
    storm = Load(
        load.storm_users, load.storm_users, load.seconds, load.max_requests, load_cpu=load.load_cpu
    )
    refresh, logins = await asyncio.gather(
        refresh_phase(server, load, vus, name="refresh during a login storm"),
        login_phase(server, storm, storm_vus),
    )
    return refresh, logins


async def race_phase(server: Running, load: Load) -> dict[str, Any]:
    """`race` simultaneous refreshes of one fresh refresh token: how many succeed, how many
    distinct successors come back, and how many of those still refresh afterwards."""
    connection = Connection(server.url)
    status, body = await _login(server, connection)
    await connection.close()
    if status != 200:
        return {"error": f"login failed: {status}"}
    _, token = server.api.tokens(body)
    connections = [Connection(server.url) for _ in range(load.race)]
    for c in connections:
        await c.connect()
    answers = await asyncio.gather(
        *(_refresh(server, c, token) for c in connections), return_exceptions=True
    )
    for c in connections:
        await c.close()
    successors = {
        server.api.tokens(a[1])[1] for a in answers if isinstance(a, tuple) and a[0] == 200
    }
    ok = sum(1 for a in answers if isinstance(a, tuple) and a[0] == 200)
    usable = 0
    connection = Connection(server.url)
    for successor in successors:
        status, _ = await _refresh(server, connection, successor)
        usable += status == 200
    await connection.close()
    return {
        "simultaneous": load.race,
        "succeeded": ok,
        "distinct_successors": len(successors),
        "successors_usable_after": usable,
        "session_usable": usable >= 1,
        "forked": usable > 1,
    }


WRK_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk_get(
    server: Running, path: str, tokens: list[str], load: Load, name: str, also: tuple[str, ...] = ()
) -> LoadResult | None:
    """GET `path` with wrk, round-robin over the users' access tokens (no token repeats
    back-to-back, so no cache sees one token only), and over `path` and the paths in `also`
    (one request to each in turn). None when wrk is not installed."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    quoted = ",".join(f'"{t}"' for t in tokens) if tokens else ""
    paths = ",".join(f'"{p}"' for p in (path, *also))
    script = (
        f"local tokens = {{{quoted}}}\n"
        f"local paths = {{{paths}}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i + 1\n"
        "  local headers = {}\n"
        "  if #tokens > 0 then\n"
        '    headers["Authorization"] = "Bearer " .. tokens[(i % #tokens) + 1]\n'
        "  end\n"
        '  return wrk.format("GET", paths[(i % #paths) + 1], headers)\n'
        "end\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        command = [
            wrk,
            "-t1",
            f"-c{load.users}",
            f"-d{max(1, round(load.seconds))}s",
            "--latency",
            "-s",
            handle.name,
            server.url,
        ]
        if load.load_cpu is not None:
            command = ["taskset", "-c", str(load.load_cpu), *command]
        out = subprocess.run(
            command, capture_output=True, text=True, check=True, timeout=load.seconds + 30
        ).stdout
    finally:
        Path(handle.name).unlink()
    requests = int(re.search(r"(\d+) requests in ([\d.]+)(\w+)", out).group(1))  # type: ignore[union-attr]
    seconds_match = re.search(r"requests in ([\d.]+)(m?s|m)\b", out)
    elapsed = float(seconds_match.group(1)) if seconds_match else load.seconds
    if seconds_match and seconds_match.group(2) == "ms":
        elapsed /= 1000
    elif seconds_match and seconds_match.group(2) == "m":
        elapsed *= 60
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    latency = {p: float(v) * UNIT[u] for p, v, u in WRK_LATENCY.findall(out)}
    return LoadResult(
        name=name,
        requests=requests,
        errors=errors,
        seconds=elapsed,
        p50_ms=latency.get("50", 0.0),
        p99_ms=latency.get("99", 0.0),
    )


async def python_get(
    server: Running, path: str, tokens: list[str], load: Load, name: str, also: tuple[str, ...] = ()
) -> LoadResult:
    async def make(i: int) -> Step:
        headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"} if tokens else {}
        paths = [path, *also]
        sent = 0

        async def step(connection: Connection) -> bool:
            nonlocal sent
            sent += 1
            status, _ = await connection.request("GET", paths[sent % len(paths)], headers=headers)
            return status == 200

        return step

    return await closed_loop(name, server.url, make, load.users, load.seconds, load.max_requests)


def get_phase(
    server: Running, path: str, tokens: list[str], load: Load, name: str, also: tuple[str, ...] = ()
) -> tuple[LoadResult, str]:
    """GETs of `path` and of the paths in `also`, in turn."""
    result = wrk_get(server, path, tokens, load, name, also)
    if result is not None:
        return result, "wrk"
    return asyncio.run(python_get(server, path, tokens, load, name, also)), "python"


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
