"""The stack's floor: what a refresh costs on this machine before Tessera's own work, besides
the signature (`bench.signing`).

- HTTP: the server CPU per request of uvicorn as `tessera serve` runs it, in front of an app
  that only reads the body and answers a token answer's bytes (`bench.peers.bare_app`), under
  the refresh phase's load (`bench.compare.bare_round`).
- SQLite: a refresh's statements alone, on `sqlite3` with Tessera's schema and pragmas (find
  the token with its session, the compare-and-set, the successor token, the audit row, the
  commit), timed in a process pinned to the server's core.

Signature + HTTP + SQLite is the least CPU any refresh on this stack can take: the lowest
ratio to the signing floor it allows, measured after each refresh round as the signing floor
is. What a refresh takes beyond it is Tessera's own work, FastAPI's and Starlette's, and the
cost of a large program's code and data not staying in the CPU's caches between requests
(the bare app and the statements run warm; a signature inside the server costs more than
`bench.signing`'s, for the same reason).

    python -m bench.stack_floor sql [CPU]   # prints {"sql": µs} as JSON
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.server import LISTENING
from bench.systems import ROOT, SYSTEMS, Running, _pinned, _stop

SESSIONS = 32  # as many as the refresh phase's users
SQL_BATCHES = 7
SQL_REFRESHES = 300  # per batch


@contextmanager
def bare_server(cpu: int | None) -> Iterator[Running]:
    """`bench.peers.bare_app` on a free port, pinned to `cpu`, as a `Running` that the refresh
    phase can drive (it speaks Tessera's refresh: the body transport)."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    command = _pinned([sys.executable, "-m", "bench.peers.bare_app", "0"], cpu)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        assert process.stdout is not None
        match = LISTENING.search(process.stdout.readline())
        if match is None:
            raise RuntimeError("the bare app did not start")
        api = SYSTEMS["tessera"][1]
        yield Running(
            "bare", "uvicorn alone", "none", match.group(1), process.pid, api, "", "", ROOT
        )
    finally:
        _stop(process)


def sql_floor(cpu: int | None) -> float:
    """`sql_cost()` in a fresh process pinned to `cpu`, in µs per refresh."""
    command = _pinned([sys.executable, "-m", "bench.stack_floor", "sql"], cpu)
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    out = subprocess.run(
        command, capture_output=True, text=True, check=True, cwd=ROOT, env=env
    ).stdout
    return float(json.loads(out)["sql"])


def sql_cost(batches: int = SQL_BATCHES, refreshes: int = SQL_REFRESHES) -> float:
    """µs of CPU per refresh's statements on SQLite (median of batches), the database made by
    Tessera's own migrations and holding `SESSIONS` sessions."""
    from tessera.store.refresh_sqlite import CREATE_AUDIT, CREATE_TOKEN, FIND, ROTATE_WITH_CLIENT

    with tempfile.TemporaryDirectory() as tmp:
        path = asyncio.run(_database_with_sessions(Path(tmp)))
        # As Tessera's own connection on the event loop (`store.sqlite_connections`).
        conn = sqlite3.connect(path, timeout=0, check_same_thread=False)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        current = {
            session: conn.execute(
                "SELECT token_hash, generation FROM refresh_tokens WHERE session_id = ?",
                (session,),
            ).fetchone()
            for (session,) in conn.execute("SELECT id FROM sessions").fetchall()
        }
        sealed = os.urandom(12 + 43 + 16)

        def refresh(session: str) -> None:
            token_hash, generation = current[session]
            cursor = conn.cursor()
            cursor.execute(FIND, {"token_hash": token_hash})
            if cursor.fetchone() is None:
                raise RuntimeError("the token was not found: not a refresh's statements")
            successor, now = os.urandom(32), time.time()
            cursor.execute("BEGIN IMMEDIATE")
            cursor.execute(
                ROTATE_WITH_CLIENT,
                {
                    "session_id": session,
                    "expected": generation,
                    "next": generation + 1,
                    "sealed": sealed,
                    "now": now,
                    "ip": "127.0.0.1",
                    "user_agent": "bench",
                },
            )
            if cursor.rowcount != 1:
                raise RuntimeError("the compare-and-set matched no session")
            cursor.execute(
                CREATE_TOKEN,
                {
                    "token_hash": successor,
                    "session_id": session,
                    "generation": generation + 1,
                    "issued_at": now,
                },
            )
            cursor.execute(
                CREATE_AUDIT,
                {
                    "at": now,
                    "kind": "refresh",
                    "subject": "bench",
                    "session_id": session,
                    "ip": "127.0.0.1",
                    "user_agent": "bench",
                    "detail": f"generation {generation + 1}",
                },
            )
            conn.commit()
            current[session] = (successor, generation + 1)

        sessions = list(current)
        for i in range(refreshes):  # warm
            refresh(sessions[i % len(sessions)])
        times = []
        for _ in range(batches):
            started = time.process_time()
            for i in range(refreshes):
                refresh(sessions[i % len(sessions)])
            times.append((time.process_time() - started) / refreshes * 1e6)
        conn.close()
    return statistics.median(times)


async def _database_with_sessions(data_dir: Path) -> str:
    """A database file migrated by Tessera, with `SESSIONS` sessions logged in."""
    from tessera import Settings, Tessera
    from tessera.sessions import ClientInfo

    settings = Settings(
        data_dir=data_dir,
        secret="bench-" + "s" * 40,
        argon2_memory_kib=8192,
        argon2_time_cost=1,
    )
    auth = Tessera(settings)
    await auth.start()
    try:
        await auth.users.add("bench", "correct-horse-battery-staple")
        for _ in range(SESSIONS):
            await auth.login("bench", "correct-horse-battery-staple", ClientInfo("127.0.0.1", "b"))
    finally:
        await auth.close()
    return str(data_dir / "tessera.db")


if __name__ == "__main__":
    print(json.dumps({"sql": round(sql_cost(), 1)}))
