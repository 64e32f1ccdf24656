"""The phases the bench runs against one running server, each a closed loop of virtual users
(`bench.load`) for a while: logins, refreshes (each user always presenting its newest refresh
token, with a fresh DPoP proof when its session is bound), a login storm, the race of ten
refreshes of one token, and protected GETs (wrk when installed, else the Python generator).
`bench.compare` runs them side by side, round by round, across systems."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load import Connection, LoadResult, Step, closed_loop
from bench.systems import Running
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
