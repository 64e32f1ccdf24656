"""PostgreSQL's side of a refresh, counted: round trips, transactions, rows written, and the
database's own CPU time per refresh (the capacity model in docs/deploy.md).

One `tessera serve` (access log on, as shipped) talks to a scratch database through a small
proxy that counts the round trips its connections make: a Sync (the end of an extended-query
exchange: asyncpg's parse/bind/execute) or a simple Query is one wait for the server. Around
`N` refreshes: the proxy's counts, `pg_stat_database` (transactions committed) and
`pg_stat_user_tables` (rows inserted, updated, deleted, per table), and the CPU time of the
database's backends serving Tessera (`/proc/<pid>/stat`: PostgreSQL runs on this machine, as
the same user or not, its processes' times are readable). The WAL writer, checkpointer and
autovacuum are not counted: their work grows with the rows written, which are counted.

`python -m bench.pg_cost [--quick]` runs this part alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from bench.phases import Load, VirtualUser, refresh_phase
from bench.postgres import scratch_database
from bench.server import tessera_serve
from bench.systems import TESSERA, Running, tree_cpu_seconds
from bench.workers import SETTINGS, log_in

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SSL_REQUEST, GSS_REQUEST = 80877103, 80877104
TABLES_SQL = (
    "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables ORDER BY relname"
)


class CountingProxy:
    """A TCP proxy in front of PostgreSQL counting its clients' round trips (Sync and Query
    messages) and statements parsed (Parse messages)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.counts: Counter[str] = Counter()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            self._frontend(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )
        writer.close()
        up_writer.close()

    async def _frontend(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Forward the client's messages, counting them by type once past the start-up."""
        started = False
        try:
            while True:
                if not started:
                    head = await reader.readexactly(8)
                    length, code = struct.unpack("!ii", head)
                    writer.write(head + await reader.readexactly(length - 8))
                    started = code not in (SSL_REQUEST, GSS_REQUEST)
                else:
                    head = await reader.readexactly(5)
                    kind, length = head[:1], struct.unpack("!i", head[1:])[0]
                    writer.write(head + await reader.readexactly(length - 4))
                    if kind in (b"S", b"Q"):
                        self.counts["round trips"] += 1
                    if kind == b"P":
                        self.counts["statements parsed"] += 1
                await writer.drain()
        except (asyncio.IncompleteReadError, OSError):
            writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        writer.close()


def _process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


async def _snapshot(url: str, name: str) -> dict[str, Any]:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        tables = {r[0]: (r[1], r[2], r[3]) for r in await conn.fetch(TABLES_SQL)}
        commits = await conn.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = $1", name
        )
        pids = [
            r[0]
            for r in await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
        ]
    finally:
        await conn.close()
    return {"tables": tables, "commits": commits, "cpu": {p: _process_cpu(p) for p in pids}}


def _settled(url: str, name: str, tokens: int) -> dict[str, Any]:
    """A snapshot once the statistics count `tokens` refresh-token rows: backends report
    their counts when idle, up to ~10 s later (PostgreSQL 15's idle flush interval)."""
    deadline = time.monotonic() + 30
    while True:
        snapshot = asyncio.run(_snapshot(url, name))
        if snapshot["tables"].get("refresh_tokens", (0,))[0] >= tokens:
            return snapshot
        if time.monotonic() > deadline:
            raise RuntimeError("PostgreSQL's statistics did not arrive")
        time.sleep(0.5)


@contextmanager
def _served(database: str, proxy: CountingProxy) -> Iterator[Running]:
    parts = urlsplit(database)
    through = f"postgresql://{parts.username or 'postgres'}@127.0.0.1:{proxy.port}{parts.path}"
    settings = {**SETTINGS, "database_url": through}
    with tessera_serve(1 if (os.cpu_count() or 1) > 1 else None, **settings) as s:
        yield Running(
            "tessera", "pg cost", s.database, s.url, s.pid, TESSERA, s.username, s.password,
            Path("."),
        )  # fmt: skip


def measure(database: str, refreshes: int) -> dict[str, Any]:
    name = urlsplit(database).path.lstrip("/")
    parts = urlsplit(database)
    load = Load(users=16, seconds=120.0, max_requests=refreshes, load_cpu=None)
    proxy = CountingProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    with proxy, _served(database, proxy) as server:
        vus: list[VirtualUser] = asyncio.run(log_in(server, load.users))
        warm = asyncio.run(refresh_phase(server, replace(load, max_requests=200), vus, "warm-up"))
        tokens = load.users + warm.requests - warm.errors  # one token row each so far
        before = _settled(database, name, tokens)
        trips_before = Counter(proxy.counts)
        server_before = tree_cpu_seconds(server.pid)
        result = asyncio.run(refresh_phase(server, load, vus, "counted"))
        server_cpu = tree_cpu_seconds(server.pid) - server_before
        trips = Counter(proxy.counts)
        trips.subtract(trips_before)
        done = result.requests - result.errors
        after = _settled(database, name, tokens + done)
    rows: dict[str, dict[str, float]] = {}
    for table, (ins, upd, dele) in after["tables"].items():
        b = before["tables"].get(table, (0, 0, 0))
        delta = {"inserted": ins - b[0], "updated": upd - b[1], "deleted": dele - b[2]}
        if any(delta.values()):
            rows[table] = {k: round(v / done, 2) for k, v in delta.items()}
    pg_cpu = sum(c - before["cpu"].get(p, 0.0) for p, c in after["cpu"].items())
    return {
        "refreshes": done,
        "errors": result.errors,
        "round_trips_per_refresh": round(trips["round trips"] / done, 2),
        "statements_parsed": trips["statements parsed"],
        "commits_per_refresh": round((after["commits"] - before["commits"] - 1) / done, 2),
        "rows_per_refresh": rows,
        "rows_written_per_refresh": round(sum(sum(r.values()) for r in rows.values()), 2),
        "postgres_cpu_ms_per_refresh": round(pg_cpu * 1000 / done, 3),
        "server_cpu_ms_per_refresh": round(server_cpu * 1000 / done, 3),
        "refresh_per_second_through_proxy": round(result.per_second),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """{"result": ..., "markdown": ...}; {"error": ...} without PostgreSQL."""
    with scratch_database() as database:
        if database is None:
            return {"error": "no PostgreSQL reachable", "markdown": ""}
        result = measure(database, 1000 if quick else 4000)
    return {"result": result, "markdown": markdown(result)}


def markdown(r: dict[str, Any]) -> str:
    tables = "; ".join(
        f"{t}: " + ", ".join(f"{v:g} {k}" for k, v in d.items() if v)
        for t, d in r["rows_per_refresh"].items()
    )
    pg, app = r["postgres_cpu_ms_per_refresh"], r["server_cpu_ms_per_refresh"]
    return "\n".join(
        [
            "## PostgreSQL's side of a refresh",
            "",
            f"{r['refreshes']} refreshes by 16 users through a counting proxy (`bench.pg_cost`):",
            "",
            f"- round trips per refresh: {r['round_trips_per_refresh']:g}; commits per refresh:"
            f" {r['commits_per_refresh']:g}; statements parsed during the run:"
            f" {r['statements_parsed']} (prepared once per connection, then reused)",
            f"- rows written per refresh: {r['rows_written_per_refresh']:g} ({tables})",
            f"- PostgreSQL backends' CPU per refresh: {pg:.3f} ms, against Tessera's"
            f" {app:.3f} ms: one PostgreSQL core keeps up with about"
            f" {app / pg if pg else 0:.1f} Tessera cores (extrapolated: WAL writer,"
            " checkpoints and vacuum not counted)",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pg_cost")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(run(quick=args.quick)["markdown"])


if __name__ == "__main__":
    main()
