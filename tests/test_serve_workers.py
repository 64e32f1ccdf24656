"""`tessera serve --workers 2` as a subprocess, on SQLite and on PostgreSQL: both workers answer
on one port with one key ring, a refresh race over both yields one successor, a revocation
through one worker is refused by the other within a second, housekeeping runs in one worker
only, a killed worker is replaced, and SIGTERM (or the parent's death) stops them all."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.helpers import bearer, wait_until
from tests.live import LISTENING, Served, serve
from tests.services import SECRET, fresh_database

pytestmark = pytest.mark.slow

DEMO_LOGIN = re.compile(r"demo login: username '([^']+)', password '([^']+)'")
WORKER = re.compile(r'^tessera_worker\{index="(\d+)",pid="(\d+)"\} 1\.0$', re.M)
RUNS = re.compile(r"^tessera_maintenance_runs_total (\S+)$", re.M)
STARTED = 60.0  # seconds for spawned workers to come up on a busy machine
RACE = 12  # simultaneous refreshes of one token
GRACE = 5.0


@dataclass
class Workers:
    served: Served
    url: str
    username: str
    password: str
    data_dir: Path


@dataclass(frozen=True)
class Scrape:
    index: int
    pid: int
    text: str


def scrape(client: httpx.Client) -> Scrape:
    """/metrics of whichever worker serves this client's connection."""
    text = client.get("/metrics").text
    match = WORKER.search(text)
    assert match, "no tessera_worker line in /metrics"
    return Scrape(int(match.group(1)), int(match.group(2)), text)


def fresh_scrape(url: str) -> Scrape:
    """On a new connection: whichever worker accepts it."""
    with httpx.Client(base_url=url, timeout=10, headers={"Connection": "close"}) as client:
        return scrape(client)


def every_worker(url: str, count: int = 2, within: float = STARTED) -> dict[int, Scrape]:
    """One scrape of each worker slot, by opening connections until each has answered."""
    seen: dict[int, Scrape] = {}

    def all_seen() -> bool:
        try:
            got = fresh_scrape(url)
        except httpx.TransportError:
            return False
        seen[got.index] = got
        return len(seen) == count

    wait_until(all_seen, f"{count} workers answering", within)
    return seen


@contextmanager
def pinned(url: str, count: int = 2) -> Iterator[dict[int, httpx.Client]]:
    """One keep-alive client per worker slot: every request on it reaches that worker."""
    clients: dict[int, httpx.Client] = {}
    with ExitStack() as stack:

        def one_more() -> bool:
            client = stack.enter_context(
                httpx.Client(base_url=url, timeout=10, limits=httpx.Limits(max_connections=1))
            )
            clients.setdefault(scrape(client).index, client)
            return len(clients) == count

        wait_until(one_more, "a connection to each worker", STARTED)
        yield clients


def runs(text: str) -> float:
    match = RUNS.search(text)
    return float(match.group(1)) if match else 0.0


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child of the server that exited but was not reaped yet is a zombie: as good as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture(params=["sqlite", "postgresql"])
def database_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    env = {"TESSERA_REUSE_GRACE": str(GRACE)}
    if request.param == "sqlite":
        yield env
        return
    with fresh_database() as url:  # created empty here, dropped after the test
        yield {**env, "TESSERA_DATABASE_URL": url, "TESSERA_SECRET": SECRET}


@contextmanager
def workers(tmp_path: Path, env: dict[str, str], *args: str) -> Iterator[Workers]:
    data_dir = tmp_path / "data"  # does not exist yet: a first start
    with serve(data_dir, "--demo", *args, env=env) as served:
        url = served.expect(LISTENING).group(1)
        username, password = served.expect(DEMO_LOGIN).groups()
        yield Workers(served, url, username, password, data_dir)


def login(client: httpx.Client, w: Workers) -> dict[str, str]:
    response = client.post(
        "/auth/login", json={"username": w.username, "password": w.password, "transport": "body"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def race(url: str, token: str) -> list[httpx.Response]:
    """`RACE` refreshes of one token at once, each on its own connection."""

    async def go() -> list[httpx.Response]:
        clients = [
            httpx.AsyncClient(base_url=url, timeout=30, headers={"Connection": "close"})
            for _ in range(RACE)
        ]
        try:
            return list(
                await asyncio.gather(
                    *(c.post("/auth/refresh", json={"refresh_token": token}) for c in clients)
                )
            )
        finally:
            for c in clients:
                await c.aclose()

    return asyncio.run(go())


def refreshes(url: str) -> dict[int, dict[str, float]]:
    """`tessera_refreshes_total` by outcome, per worker slot."""
    pattern = re.compile(r'^tessera_refreshes_total\{outcome="(\w+)"\} (\S+)$', re.M)
    return {
        index: {m.group(1): float(m.group(2)) for m in pattern.finditer(s.text)}
        for index, s in every_worker(url).items()
    }


def grew(
    before: dict[int, dict[str, float]], after: dict[int, dict[str, float]], outcome: str
) -> dict[int, float]:
    return {i: after[i].get(outcome, 0.0) - before[i].get(outcome, 0.0) for i in after}


def test_two_workers_one_port_one_key_ring(tmp_path: Path, database_env: dict[str, str]) -> None:
    with workers(tmp_path, database_env, "--workers", "2") as w:
        seen = every_worker(w.url)
        assert sorted(seen) == [0, 1] and seen[0].pid != seen[1].pid
        assert w.served.process.pid not in {s.pid for s in seen.values()}

        # A fresh data dir, two workers at once: one secret, one signing key, seen by both.
        with pinned(w.url) as clients:
            jwks = [clients[i].get("/.well-known/jwks.json").json() for i in (0, 1)]
            assert jwks[0] == jwks[1] and len(jwks[0]["keys"]) == 1
            tokens = login(clients[0], w)
            for i in (0, 1):
                me = clients[i].get("/api/me", headers=bearer(tokens["access_token"]))
                assert me.status_code == 200, me.text
        if "TESSERA_DATABASE_URL" not in database_env:
            assert (w.data_dir / "secret.key").stat().st_mode & 0o777 == 0o600
            with sqlite3.connect(w.data_dir / "tessera.db") as db:
                states = db.execute("SELECT state FROM signing_keys").fetchall()
            assert states == [("active",)]

        # Refresh races over both workers: each yields exactly one successor. Which worker
        # accepts which connection is the kernel's choice: race until a race used both.
        spread = False
        for _ in range(10):
            with httpx.Client(base_url=w.url, timeout=10) as client:
                token = login(client, w)["refresh_token"]
            before = refreshes(w.url)
            responses = race(w.url, token)
            assert [r.status_code for r in responses] == [200] * RACE, [r.text for r in responses]
            assert len({r.json()["refresh_token"] for r in responses}) == 1  # one successor
            after = refreshes(w.url)
            rotated, grace = grew(before, after, "rotated"), grew(before, after, "grace")
            assert sum(rotated.values()) == 1  # one rotation over both workers
            assert sum(grace.values()) == RACE - 1  # the rest: the grace answer, same successor
            spread = all(rotated[i] + grace[i] > 0 for i in (0, 1))
            if spread:
                break
        assert spread, "no race reached both workers in 10 tries"

        # A session revoked through one worker is refused by the other within a second.
        with pinned(w.url) as clients:
            for revoker, other in ((0, 1), (1, 0)):
                tokens = login(clients[revoker], w)
                me = clients[other].get("/api/me", headers=bearer(tokens["access_token"]))
                assert me.status_code == 200, me.text
                out = clients[revoker].post(
                    "/auth/logout", json={"refresh_token": tokens["refresh_token"]}
                )
                assert out.status_code == 204, out.text
                refused = clients[revoker].get("/api/me", headers=bearer(tokens["access_token"]))
                assert refused.status_code == 401  # at once, where it was revoked

                def refused_elsewhere(token: str = tokens["access_token"], i: int = other) -> bool:
                    return clients[i].get("/api/me", headers=bearer(token)).status_code == 401

                wait_until(refused_elsewhere, f"worker {other} to refuse the revoked session", 1.0)
                # Still the same worker on that connection: the check was really elsewhere.
                assert scrape(clients[other]).index == other

        assert w.served.stop() == 0


def test_housekeeping_once_restarts_and_sigterm(
    tmp_path: Path, database_env: dict[str, str]
) -> None:
    env = {**database_env, "TESSERA_WORKERS": "2", "TESSERA_GC_INTERVAL": "0.2"}
    with workers(tmp_path, env) as w:
        seen = every_worker(w.url)

        # Worker 0 runs the upkeep, again and again; worker 1 never does.
        def upkeep_repeats() -> bool:
            return runs(every_worker(w.url)[0].text) >= 3

        wait_until(upkeep_repeats, "worker 0's upkeep to run three times")
        assert runs(every_worker(w.url)[1].text) == 0

        # A killed worker is replaced in its slot, by a new process.
        for index in (1, 0):
            old = seen[index].pid
            os.kill(old, signal.SIGKILL)

            wait_until(lambda old=old: not alive(old), "the killed worker to be reaped")
            seen = every_worker(w.url)
            assert seen[index].pid != old

        # The new worker 0 took the upkeep over; worker 1 (also new) still does not run it.
        wait_until(lambda: runs(every_worker(w.url)[0].text) >= 1, "the new worker 0's upkeep")
        assert runs(every_worker(w.url)[1].text) == 0
        stderr = w.served.stderr_path.read_text()
        assert re.search(r"worker 1 \(pid \d+\) exited with code -9; starting another", stderr)

        # SIGTERM: every worker stops, then the parent, with exit code 0.
        pids = [s.pid for s in seen.values()]
        assert w.served.stop() == 0
        wait_until(lambda: not any(alive(p) for p in pids), "every worker to exit")
        stderr = w.served.stderr_path.read_text()
        assert stderr.count("Application shutdown complete") >= 2
        assert "Traceback" not in stderr


def test_workers_stop_when_the_parent_dies(tmp_path: Path) -> None:
    with workers(tmp_path, {}, "--workers", "2") as w:
        pids = [s.pid for s in every_worker(w.url).values()]
        w.served.process.kill()  # SIGKILL: no chance to pass anything on
        w.served.process.wait(timeout=10)
        wait_until(lambda: not any(alive(p) for p in pids), "the orphaned workers to exit")
        with pytest.raises(httpx.TransportError):
            fresh_scrape(w.url)


def spawned_workers(parent: int) -> set[int]:
    """The parent's worker processes (not multiprocessing's resource tracker)."""
    try:
        children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    except FileNotFoundError:
        return set()
    found = set()
    for child in map(int, children):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.add(child)
        except FileNotFoundError:
            continue
    return found


def test_a_slot_that_keeps_dying_at_start_stops_the_server(tmp_path: Path) -> None:
    with workers(tmp_path, {}, "--workers", "2") as w:
        parent = w.served.process
        killed: set[int] = set()

        def kill_each_new_worker() -> bool:
            for pid in spawned_workers(parent.pid) - killed:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            return parent.poll() is not None

        wait_until(kill_each_new_worker, "the server to give up", STARTED)
        assert parent.returncode == 1
        stderr = w.served.stderr_path.read_text()
        assert re.search(r"worker \d exited 5 times in a row right after starting", stderr)
        assert len(killed) >= 5
