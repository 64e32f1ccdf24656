"""The side-by-side phases, run identically against every system (see `bench.systems`).

Per system and database: login throughput; the race (10 simultaneous refreshes of one token);
refresh throughput and latency (each virtual user always presents its newest refresh token;
rounds interleaved across the systems, the median reported);
protected GET throughput (wrk when installed, else the Python generator), and for Tessera the
same route unprotected and refresh latency during a login storm. Resident memory of the server
(all its processes) is sampled throughout.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.load import Connection, LoadResult, Step, closed_loop
from bench.systems import Running, tree_rss_bytes


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


async def _login(server: Running, connection: Connection) -> tuple[int, bytes]:
    return await connection.request(
        "POST", server.api.login_path, server.api.login_body(server.username, server.password)
    )


async def _refresh(server: Running, connection: Connection, token: str) -> tuple[int, bytes]:
    body, headers = server.api.refresh_request(token)
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

    async def top_up(vu: VirtualUser) -> None:
        connection = Connection(server.url)
        try:
            status, body = await _login(server, connection)
            if status == 200:
                vu.access, vu.refresh = server.api.tokens(body)
        finally:
            await connection.close()

    # The other virtual users (and any the time bound left out) log in once, outside the timing.
    await asyncio.gather(*(top_up(vu) for vu in vus if not vu.refresh))
    return result


async def refresh_phase(
    server: Running, load: Load, vus: list[VirtualUser], name: str = "refresh"
) -> LoadResult:
    async def make(i: int) -> Step:
        async def step(connection: Connection) -> bool:
            status, body = await _refresh(server, connection, vus[i].refresh)
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
    server: Running, path: str, tokens: list[str], load: Load, name: str
) -> LoadResult | None:
    """GET `path` with wrk, round-robin over the users' access tokens (no token repeats
    back-to-back, so no cache sees one token only). None when wrk is not installed."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    quoted = ",".join(f'"{t}"' for t in tokens) if tokens else ""
    script = (
        f"local tokens = {{{quoted}}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i + 1\n"
        "  local headers = {}\n"
        "  if #tokens > 0 then\n"
        '    headers["Authorization"] = "Bearer " .. tokens[(i % #tokens) + 1]\n'
        "  end\n"
        f'  return wrk.format("GET", "{path}", headers)\n'
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
    server: Running, path: str, tokens: list[str], load: Load, name: str
) -> LoadResult:
    async def make(i: int) -> Step:
        headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"} if tokens else {}

        async def step(connection: Connection) -> bool:
            status, _ = await connection.request("GET", path, headers=headers)
            return status == 200

        return step

    return await closed_loop(name, server.url, make, load.users, load.seconds, load.max_requests)


def get_phase(
    server: Running, path: str, tokens: list[str], load: Load, name: str
) -> tuple[LoadResult, str]:
    result = wrk_get(server, path, tokens, load, name)
    if result is not None:
        return result, "wrk"
    return asyncio.run(python_get(server, path, tokens, load, name)), "python"


REFRESH_ROUNDS = 3


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


def run_systems(servers: dict[str, Running], load: Load) -> dict[str, dict[str, Any]]:
    """Every phase against every running system. The refresh phase, the one the headline
    ratio compares, runs as `REFRESH_ROUNDS` rounds interleaved across the systems (the
    order rotating each round), so a burst of other work on the machine lands on all of them
    alike; each system gets the same rounds of the same length. Tessera also gets its own
    extra phases."""
    memory = {system: Memory() for system in servers}
    vus = {system: [VirtualUser() for _ in range(load.users)] for system in servers}
    phases: dict[str, dict[str, Any]] = {system: {} for system in servers}
    for system, server in servers.items():
        with sampling_rss(server.pid, memory[system], "login"):
            phases[system]["login"] = asyncio.run(login_phase(server, load, vus[system]))
        phases[system]["race"] = asyncio.run(race_phase(server, load))
    order = list(servers)
    rounds: dict[str, list[LoadResult]] = {system: [] for system in servers}
    round_load = replace(load, seconds=load.seconds / 2)
    for n in range(REFRESH_ROUNDS):
        for system in order[n % len(order) :] + order[: n % len(order)]:
            server = servers[system]
            with sampling_rss(server.pid, memory[system], "refresh"):
                result = asyncio.run(refresh_phase(server, round_load, vus[system]))
            rounds[system].append(result)
    for system, server in servers.items():
        phases[system]["refresh"] = median_round(rounds[system])
        phases[system]["refresh_rounds"] = [r.as_dict() for r in rounds[system]]
        phases[system].update(
            run_rest(server, load, [vu.access for vu in vus[system] if vu.access], memory[system])
        )
        if server.api.open_path:
            with sampling_rss(server.pid, memory[system], "login storm"):
                phases[system]["storm"], phases[system]["storm_logins"] = asyncio.run(
                    storm_phase(server, load, vus[system])
                )
        phases[system]["peak_rss_bytes"] = memory[system].peak
    return phases


GET_ROUNDS = 5


def run_rest(server: Running, load: Load, tokens: list[str], memory: Memory) -> dict[str, Any]:
    """Protected GETs, and for Tessera the same route unprotected: `GET_ROUNDS` rounds of
    a third of a phase each, the two kinds alternating (which goes first alternates too), so
    the protected/unprotected ratio compares neighbours in time rather than two phases a burst
    of other work on the machine may have split: `pair_ratio` is the median over the rounds of
    each round's protected/unprotected throughput. Every system gets the same protected
    rounds."""
    round_load = replace(load, seconds=load.seconds / 3)
    kinds = {"protected": (server.api.protected_path, tokens, "protected GET")}
    if server.api.open_path:
        kinds["open"] = (server.api.open_path, [], "same route unprotected")
    rounds: dict[str, list[LoadResult]] = {kind: [] for kind in kinds}
    tool = "-"
    for n in range(GET_ROUNDS):
        for kind in list(kinds) if n % 2 == 0 else list(reversed(kinds)):
            path, credentials, label = kinds[kind]
            with sampling_rss(server.pid, memory, label):
                result, tool = get_phase(
                    server, path, credentials, round_load, f"{label} ({server.database})"
                )
            rounds[kind].append(result)
    phases: dict[str, Any] = {kind: median_round(r) for kind, r in rounds.items()}
    phases["get_tool"] = tool
    if "open" in rounds:
        phases["pair_ratio"] = statistics.median(
            p.per_second / max(o.per_second, 1e-9)
            for p, o in zip(rounds["protected"], rounds["open"], strict=True)
        )
    return phases
