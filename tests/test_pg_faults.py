"""Every database fault is a 503, proven against a real PostgreSQL that crashes, restarts and
refuses (issue 17, item 2; the figures of item 3 are printed, visible with `-s`).

Two `tessera serve` replicas on a private cluster (tests/pg_cluster.py), a fresh database per
test, clients refreshing in a loop against alternating replicas, each keeping the token of its
last 200. Then a fault: an immediate stop and restart (crash recovery), `pg_terminate_backend`
on every pool connection, `max_connections` exhausted by another client, the LISTEN connection
killed, a restart while a rotation is in flight, a read-only database (a standby after failover)
and a rotated password. Every test asserts:

- no 500, no transport error: every answer that is not 200 is a 503 `unavailable` with
  Retry-After, and no 401 a healthy database would not have given;
- `/readyz` 503 during the fault (where readiness can see it) and 200 after, nothing restarted;
- no session lost: after recovery every client refreshes its last-200 token (200, same session);
- `tessera_unavailable_total{kind}` (summed over the replicas) counts exactly the 503s the test
  received, under the kinds the fault should produce.

A rotation whose answer was lost in a fault is replayed, not taken for theft: the replicas run
with a reuse grace window longer than any test.
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import PASSWORD
from tests.helpers import bearer, until
from tests.live import LISTENING, serve
from tests.pg_cluster import (
    CONNECT_TIMEOUT,
    HeldConnections,
    PgCluster,
    quote,
    running_cluster,
)
from tests.test_replicas import REPLICA_ENV, add_user

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

MAX_CONNECTIONS = 30  # the cluster's: few connections to exhaust
POOL_SIZE = 8  # per replica: 2 x (8 + the LISTEN connection) + ours stays well below
GRACE = 30.0  # seconds: longer than any test, so a lost answer is replayed, not theft
POLL_INTERVAL = 2.0  # TESSERA_REVOCATION_POLL_INTERVAL: slow enough to tell a NOTIFY from it
RELISTEN_AFTER = 5.0  # tessera.revocations.watch.RELISTEN_AFTER
ENV = {
    **REPLICA_ENV,
    "TESSERA_REUSE_GRACE": str(GRACE),
    "TESSERA_DB_POOL_SIZE": str(POOL_SIZE),
    "TESSERA_REVOCATION_POLL_INTERVAL": str(POLL_INTERVAL),
    # Not under test here: the per-token limit would answer a client that retries through an
    # outage 429, and concurrent logins from one address would be shed.
    "TESSERA_REFRESH_LIMIT": "100000",
    "TESSERA_LOGIN_MAX_IN_FLIGHT_PER_IP": "16",
}

CLIENTS = 6
PAUSE = 0.02  # seconds between two refreshes of one client
BACKOFF = 0.1  # seconds after a 503
PROBE = 0.05  # seconds between two /readyz probes of one replica
WARMUP = 1.0  # seconds of load before the fault
AFTER = 1.0  # seconds of load after recovery
DOWN = 1.0  # seconds PostgreSQL stays stopped
ROUNDS = 3  # pg_terminate_backend rounds
BETWEEN_ROUNDS = 0.3  # seconds between two of them
HOLD = 1.5  # seconds a fault is held once in place (exhaustion, read-only, refused)
MARGIN = 3.0  # seconds allowed beyond what a mechanism promises (the machine is shared)
RECOVERY = 15.0  # seconds for service to come back after a fault ends
LOCK_WAIT = 5.0  # seconds for a refresh to block on the row we hold
TERMINATE_WAIT_MS = 1000  # pg_terminate_backend waits this long for the backend to exit
HTTP_TIMEOUT = 15.0

POOL = "tessera"  # the pool's application_name
LISTENER = "tessera-revocations"  # the LISTEN connection's
APP_ROLE = "tessera_app"  # the role with a password (the password-rotation stand-in)
APP_PASSWORD = "first-password-0123"
ROTATED_PASSWORD = "second-password-4567"

UNAVAILABLE = re.compile(r'^tessera_unavailable_total\{kind="([^"]+)"\} (\S+)$', re.MULTILINE)
LOAD = ("login", "refresh", "readyz", "metrics")  # what every test sends (verify checks them)
NOTICES_UP = re.compile(r"^tessera_revocation_notices_up (\S+)$", re.MULTILINE)


# the deployment ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[PgCluster]:
    with running_cluster(MAX_CONNECTIONS) as started:
        yield started


@dataclass(frozen=True)
class Deployment:
    cluster: PgCluster
    database: str
    url: str  # the replicas' database URL
    urls: list[str]  # the replicas
    pids: list[int]  # their processes


@contextmanager
def deployment(cluster: PgCluster, base: Path, database: str, url: str) -> Iterator[Deployment]:
    """Two replicas on `url`, started together on its empty database, and the user alice."""
    env = {**ENV, "TESSERA_DATABASE_URL": url}
    with ExitStack() as stack:
        served = [stack.enter_context(serve(base / f"replica{n}", env=env)) for n in range(2)]
        urls = [s.expect(LISTENING).group(1) for s in served]
        add_user(url)
        yield Deployment(cluster, database, url, urls, [s.process.pid for s in served])


@pytest.fixture
def deployed(
    cluster: PgCluster, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Deployment]:
    database = re.sub(r"\W", "_", request.node.name)[:60]
    url = cluster.create_database(database)
    with deployment(cluster, tmp_path, database, url) as made:
        yield made
    cluster.sql(f"DROP DATABASE IF EXISTS {quote(database)} WITH (FORCE)")


# what the test sees ------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    what: str  # refresh, readyz, login, ...
    replica: int
    sent: float  # time.monotonic()
    done: float
    status: int  # 0: no answer (a transport error)
    code: str  # the body's `error`, or the exception's name
    retry_after: str | None


@dataclass
class Recorder:
    """Every request the test makes goes through here, so every answer is counted."""

    client: httpx.AsyncClient
    urls: list[str]
    answers: list[Answer] = field(default_factory=list)

    async def request(
        self, what: str, replica: int, method: str, path: str, **options: Any
    ) -> httpx.Response:
        sent = time.monotonic()
        try:
            response = await self.client.request(method, self.urls[replica] + path, **options)
        except httpx.HTTPError as exc:
            self.answers.append(
                Answer(what, replica, sent, time.monotonic(), 0, type(exc).__name__, None)
            )
            raise
        code = ""
        if response.status_code != 200 and response.headers.get("content-type", "").startswith(
            "application/json"
        ):
            code = str(response.json().get("error", ""))
        self.answers.append(
            Answer(
                what,
                replica,
                sent,
                time.monotonic(),
                response.status_code,
                code,
                response.headers.get("retry-after"),
            )
        )
        return response

    async def unavailable(self) -> collections.Counter[str]:
        """`tessera_unavailable_total` by kind, summed over the replicas."""
        counts: collections.Counter[str] = collections.Counter()
        for replica in range(len(self.urls)):
            text = (await self.request("metrics", replica, "GET", "/metrics")).text
            for kind, value in UNAVAILABLE.findall(text):
                counts[kind] += int(float(value))
        return +counts

    async def notices_up(self, replica: int) -> bool:
        text = (await self.request("metrics", replica, "GET", "/metrics")).text
        found = NOTICES_UP.search(text)
        return found is not None and float(found.group(1)) == 1.0

    async def ready(self, replica: int) -> bool:
        return (await self.request("readyz", replica, "GET", "/readyz")).status_code == 200


@dataclass
class Client:
    n: int
    session_id: str
    token: str  # the refresh token of its last 200
    access: str
    lost: str | None = None  # why the session was lost


class Load:
    """`CLIENTS` clients refreshing in a loop against alternating replicas, and a /readyz probe
    on each replica, until stopped."""

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self.clients: list[Client] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.stopping = False

    async def start(self) -> None:
        self.clients = list(
            await asyncio.gather(*(login(self.rec, n % 2, n) for n in range(CLIENTS)))
        )
        self.tasks = [asyncio.create_task(self.refreshing(c)) for c in self.clients]
        self.tasks += [asyncio.create_task(self.probing(r)) for r in range(len(self.rec.urls))]

    async def stop(self) -> None:
        self.stopping = True
        await asyncio.gather(*self.tasks)

    async def __aenter__(self) -> Load:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()  # also when the test failed: no request left behind its client

    async def refreshing(self, client: Client) -> None:
        i = client.n
        while not self.stopping:
            replica, i = i % 2, i + 1
            try:
                response = await refresh(self.rec, replica, client.token)
            except httpx.HTTPError:
                await asyncio.sleep(BACKOFF)
                continue
            if response.status_code == 200:
                body = response.json()
                if body["session_id"] != client.session_id:
                    client.lost = f"another session: {body['session_id']}"
                    return
                client.token = body["refresh_token"]
                await asyncio.sleep(PAUSE)
            elif response.status_code == 401:
                client.lost = response.text
                return
            else:
                await asyncio.sleep(BACKOFF)

    async def probing(self, replica: int) -> None:
        while not self.stopping:
            with suppress(httpx.HTTPError):
                await self.rec.ready(replica)
            await asyncio.sleep(PROBE)


async def login(rec: Recorder, replica: int, n: int = 0) -> Client:
    response = await rec.request(
        "login",
        replica,
        "POST",
        "/auth/login",
        json={"username": "alice", "password": PASSWORD, "transport": "body"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return Client(n, body["session_id"], body["refresh_token"], body["access_token"])


async def refresh(rec: Recorder, replica: int, token: str) -> httpx.Response:
    return await rec.request(
        "refresh", replica, "POST", "/auth/refresh", json={"refresh_token": token}
    )


@asynccontextmanager
async def recording(deployed: Deployment) -> AsyncIterator[Recorder]:
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        yield Recorder(client, deployed.urls)


@asynccontextmanager
async def admin(deployed: Deployment) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection of the test's own to the test's database."""
    conn = await asyncpg.connect(
        deployed.cluster.url(deployed.database),
        timeout=CONNECT_TIMEOUT,
        server_settings={"application_name": "tessera-test-admin"},
    )
    try:
        yield conn
    finally:
        await conn.close()


async def terminate(conn: asyncpg.Connection, application_name: str, wait: int = 0) -> int:
    """`pg_terminate_backend` on every backend of that application_name, waiting up to `wait`
    ms for each to be gone (so that its slot is free); how many."""
    n = await conn.fetchval(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, $2)) FROM pg_stat_activity"
        " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        " AND application_name = $1",
        application_name,
        wait,
    )
    return int(n)


# what every test asserts, and prints ---------------------------------------------------------


@dataclass
class Fault:
    name: str
    start: float = 0.0
    end: float = 0.0
    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, what: str) -> None:
        self.marks[what] = time.monotonic()

    def began(self) -> None:
        self.start = time.monotonic()

    def ended(self) -> None:
        self.end = time.monotonic()


async def recovered(rec: Recorder, fault: Fault) -> None:
    """Service back by itself (nothing restarted): a refresh answered 200 after the fault's
    end, and /readyz 200 on every replica; then more load."""

    def refreshed() -> bool:
        return any(
            a.what == "refresh" and a.status == 200 and a.done >= fault.end for a in rec.answers
        )

    await until(refreshed, f"a 200 after {fault.name}", RECOVERY)
    for replica in range(len(rec.urls)):
        await until(
            lambda r=replica: rec.ready(r), f"/readyz on replica {replica} after {fault.name}"
        )
    await asyncio.sleep(AFTER)


async def settled(
    rec: Recorder,
    load: Load,
    fault: Fault,
    kinds: set[str],
    *,
    expect: tuple[str, ...] = (),
    readiness_sees: bool = True,
) -> None:
    """After a fault's end: service back by itself (nothing restarted), the load stopped, then
    the assertions every fault shares, and the figures printed."""
    await recovered(rec, fault)
    await load.stop()
    assert not load.tasks or all(t.done() for t in load.tasks)
    # 0 sessions lost: every client's last-200 token still refreshes its own session.
    for client in load.clients:
        assert client.lost is None, f"client {client.n} lost its session: {client.lost}"
        response = await refresh(rec, client.n % 2, client.token)
        assert response.status_code == 200, f"client {client.n}: {response.text}"
        assert response.json()["session_id"] == client.session_id

    counted = await rec.unavailable()
    report(rec, fault, counted)

    # No 500, no transport error, no 401: a 200, or a 503 unavailable with Retry-After.
    wrong = [a for a in rec.answers if a.what in LOAD and a.status not in (200, 503)]
    assert not wrong, f"answers other than 200 and 503: {wrong[:5]}"
    for a in rec.answers:
        if a.status == 503:
            assert a.code == "unavailable", a
            assert a.retry_after is not None and int(a.retry_after) > 0, a
    # The metric counts every 503 the replicas gave, under the fault's kinds.
    received = sum(1 for a in rec.answers if a.status == 503)
    assert sum(counted.values()) == received, (counted, received)
    assert set(counted) <= kinds, f"unexpected kinds: {counted}"
    assert set(expect) <= set(counted), f"expected kinds {expect}, counted {counted}"
    # Readiness: 503 during the fault where it can see it, and 200 after on every replica
    # (checked by `recovered`, nothing restarted).
    if readiness_sees:
        for replica in range(len(rec.urls)):
            assert any(
                a.what == "readyz"
                and a.replica == replica
                and a.status == 503
                and fault.start <= a.sent
                and a.done <= fault.end
                for a in rec.answers
            ), f"/readyz on replica {replica} never 503 during {fault.name}"


def report(rec: Recorder, fault: Fault, counted: collections.Counter[str]) -> None:
    """The closing note's figures: answers by (status, code) during the fault and after it,
    the metric, and the time from the fault's end to the first 200 and to /readyz 200."""

    def phase(a: Answer) -> str:
        if a.done < fault.start:
            return "before"
        return "during" if a.sent <= fault.end else "after"

    table: collections.Counter[tuple[str, str, int, str]] = collections.Counter(
        (phase(a), a.what, a.status, a.code) for a in rec.answers if a.what in ("refresh", "readyz")
    )
    print(f"\n== {fault.name}: fault {fault.end - fault.start:.3f} s")
    for (when, what, status, code), n in sorted(table.items()):
        print(f"   {when:6} {what:7} {status} {code or '-':12} {n}")
    print(f"   tessera_unavailable_total (both replicas): {dict(counted)}")
    first = [
        a.done - fault.end
        for a in rec.answers
        if a.what == "refresh" and a.status == 200 and a.done >= fault.end
    ]
    last_503 = [a.done - fault.end for a in rec.answers if a.status == 503]
    ready = []
    for replica in range(len(rec.urls)):
        after = [
            a.done - fault.end
            for a in rec.answers
            if a.what == "readyz"
            and a.replica == replica
            and a.status == 200
            and a.sent >= fault.end
        ]
        ready.append(f"{min(after):.3f}" if after else "-")
    print(
        f"   fault end -> first 200: {f'{min(first):.3f}' if first else '-'} s;"
        f" -> /readyz 200: {', '.join(ready)} s (probed every {PROBE} s);"
        f" last 503: {f'{max(last_503):+.3f} s' if last_503 else 'none'}"
    )
    for what, at in fault.marks.items():
        print(f"   {what}: {at - fault.start:+.3f} s from the fault's start")


# the faults ----------------------------------------------------------------------------------


async def test_immediate_stop_and_restart(deployed: Deployment) -> None:
    """`pg_ctl stop -m immediate`, 1 s down, start (crash recovery): the issue's 500s came from
    the ~150 ms of "the database system is starting up"."""
    cluster = deployed.cluster
    fault = Fault("immediate stop, 1 s down, crash recovery")
    async with recording(deployed) as rec, Load(rec) as load:
        await asyncio.sleep(WARMUP)
        fault.began()
        await asyncio.to_thread(cluster.stop, "immediate")
        fault.mark("stopped")
        await asyncio.sleep(DOWN)
        fault.ended()  # `pg_ctl start` called: crash recovery is part of the recovery time
        await asyncio.to_thread(cluster.start)
        fault.mark("pg_ctl start returned")
        await settled(
            rec,
            load,
            fault,
            {"connection", "starting_up", "shutting_down"},
            expect=("connection",),
        )


async def test_every_pool_connection_terminated(deployed: Deployment) -> None:
    """`pg_terminate_backend` on every pool connection, a few times mid-load: the checkout
    check and the refresh path's one retry hide it; a failure is a 503, never a 500."""
    fault = Fault(f"pg_terminate_backend on the pool, {ROUNDS} rounds")
    async with recording(deployed) as rec, admin(deployed) as conn, Load(rec) as load:
        await asyncio.sleep(WARMUP)
        fault.began()
        killed = []
        for n in range(ROUNDS):
            if n:
                await asyncio.sleep(BETWEEN_ROUNDS)
            killed.append(await terminate(conn, POOL))
        fault.ended()
        print(f"\n   pool connections terminated per round: {killed}")
        assert all(killed), killed
        await settled(rec, load, fault, {"connection", "shutting_down"}, readiness_sees=False)


async def test_max_connections_exhausted(deployed: Deployment) -> None:
    """Another client takes every connection the replicas' pools held: they must reconnect
    and are refused ("too many clients") until it lets go."""
    cluster = deployed.cluster
    fault = Fault("max_connections exhausted by another client")
    held: list[HeldConnections] = []
    async with recording(deployed) as rec, admin(deployed) as conn, Load(rec) as load:
        await asyncio.sleep(WARMUP)
        fault.began()
        # The replicas are paused while their connections go and ours take the slots: running,
        # they would win the race for a freed slot (their requests wait for one). Paused, they
        # only answer late; then each finds its pooled connections closed and must reconnect.
        with paused(deployed.pids):
            terminated = await terminate(conn, POOL, TERMINATE_WAIT_MS)
            held.append(await asyncio.to_thread(cluster.hold_connections))
        try:
            fault.mark(f"{terminated} pool connections gone, {held[0].count} slots held")
            assert held[0].count >= terminated
            await asyncio.sleep(HOLD)
        finally:
            await asyncio.to_thread(held[0].release)
        fault.ended()
        await settled(
            rec,
            load,
            fault,
            {"too_many_connections", "shutting_down", "connection"},
            expect=("too_many_connections",),
        )


@contextmanager
def paused(pids: list[int]) -> Iterator[None]:
    """SIGSTOP the processes for the with block, SIGCONT after."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


async def test_listen_connection_killed(deployed: Deployment) -> None:
    """The LISTEN connection killed: a revocation on replica 0 still reaches replica 1 through
    the poll fallback, and through NOTIFY again once it listens anew."""
    fault = Fault("the LISTEN connections terminated")
    async with (
        recording(deployed) as rec,
        admin(deployed) as conn,
        AsyncExitStack() as stack,
    ):
        for replica in range(2):
            await until(lambda r=replica: rec.notices_up(r), f"NOTIFY on replica {replica}")
        first, second = await login(rec, 0), await login(rec, 0)
        for victim in (first, second):
            me = await rec.request("me", 1, "GET", "/api/me", headers=bearer(victim.access))
            assert me.status_code == 200, me.text
        load = await stack.enter_async_context(Load(rec))
        await asyncio.sleep(WARMUP)

        async def revoked_on(replica: int, victim: Client) -> bool:
            me = await rec.request("me", replica, "GET", "/api/me", headers=bearer(victim.access))
            assert me.status_code in (200, 401), me.text
            return me.status_code == 401

        async def revoke(victim: Client) -> None:
            gone = await rec.request(
                "revoke",
                0,
                "DELETE",
                f"/auth/sessions/{victim.session_id}",
                headers=bearer(victim.access),
            )
            assert gone.status_code == 204, gone.text

        fault.began()
        assert await terminate(conn, LISTENER) == 2
        for replica in range(2):
            await until(
                lambda r=replica: not_(rec.notices_up(r)), f"replica {replica} to notice the loss"
            )
        fault.mark("both replicas polling")
        await revoke(first)
        polled = await until(
            lambda: revoked_on(1, first), "the revocation by polling", POLL_INTERVAL + MARGIN
        )
        fault.mark("revocation 1 seen on replica 1 (polling)")
        for replica in range(2):
            await until(
                lambda r=replica: rec.notices_up(r),
                f"NOTIFY back on replica {replica}",
                RELISTEN_AFTER + POLL_INTERVAL + MARGIN,
            )
        fault.ended()  # both listen again
        await revoke(second)
        notified = await until(
            lambda: revoked_on(1, second), "the revocation by NOTIFY", POLL_INTERVAL + MARGIN
        )
        fault.mark("revocation 2 seen on replica 1 (NOTIFY)")
        print(
            f"\n   revocation seen on the other replica: {polled:.3f} s by polling (interval"
            f" {POLL_INTERVAL} s), {notified:.3f} s by NOTIFY once it listened again"
        )
        await settled(rec, load, fault, set(), readiness_sees=False)
        assert not [a for a in rec.answers if a.what == "readyz" and a.status != 200]


async def not_(check: Any) -> bool:
    return not await check


async def test_restart_while_a_rotation_is_in_flight(deployed: Deployment) -> None:
    """A refresh blocked in its UPDATE (we hold the session's row) when PostgreSQL stops -m
    immediate: no half-rotated session. First the crash before the rotation could commit, then
    the lock released just before the crash (the rotation commits, its answer may be lost)."""
    cluster = deployed.cluster
    fault = Fault("immediate restart with a rotation in flight")
    async with recording(deployed) as rec, AsyncExitStack() as stack:
        victim = await login(rec, 0)
        load = await stack.enter_async_context(Load(rec))
        await asyncio.sleep(WARMUP)
        fault.began()
        for release_first in (False, True):
            conn = await asyncpg.connect(
                cluster.url(deployed.database),
                timeout=CONNECT_TIMEOUT,
                server_settings={"application_name": "tessera-test-lock"},
            )
            locked = conn.transaction()
            await locked.start()
            before = await conn.fetchval(
                "SELECT generation FROM sessions WHERE id = $1 FOR UPDATE", victim.session_id
            )
            in_flight = asyncio.create_task(refresh(rec, 0, victim.token))

            async def blocked(conn: asyncpg.Connection = conn) -> bool:
                return bool(
                    await conn.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
                        " AND wait_event_type = 'Lock'",
                        POOL,
                    )
                )

            await until(blocked, "the refresh to wait on our lock", LOCK_WAIT)
            if release_first:
                await locked.commit()
            await asyncio.to_thread(cluster.stop, "immediate")
            response = await in_flight
            await asyncio.to_thread(cluster.start)
            after = (
                await asyncio.to_thread(
                    cluster.sql,
                    "SELECT generation FROM sessions WHERE id = $1",
                    victim.session_id,
                    database=deployed.database,
                )
            )[0]["generation"]
            with suppress(Exception):  # it died in the crash
                await conn.close(timeout=CONNECT_TIMEOUT)
            print(
                f"\n   lock {'released just before' if release_first else 'held through'} the"
                f" crash: in-flight refresh answered {response.status_code}; generation"
                f" {before} -> {after} ({'committed' if after != before else 'not committed'})"
            )
            assert response.status_code in (200, 503), response.text
            assert (response.status_code == 200) <= (after == before + 1)
            retried = await until(lambda: ready_both(rec), "readiness after the restart", RECOVERY)
            fault.mark(f"ready after restart {int(release_first) + 1} ({retried:.3f} s)")
            assert await consistent(deployed), "a half-rotated session"
            # The in-flight answer taken as lost on its way (as a 503 or a cut connection would
            # lose it): the client presents its last-200 token again. Not committed, it
            # rotates; committed, it is inside the grace window and gets the in-flight token.
            again = await refresh(rec, 1, victim.token)
            assert again.status_code == 200, again.text
            assert again.json()["session_id"] == victim.session_id
            if response.status_code == 200:
                assert again.json()["refresh_token"] == response.json()["refresh_token"]
            victim.token = again.json()["refresh_token"]
            following = await refresh(rec, 0, victim.token)
            assert following.status_code == 200, following.text
            victim.token = following.json()["refresh_token"]
            assert await consistent(deployed), "a half-rotated session"
        fault.ended()
        await settled(
            rec,
            load,
            fault,
            {"connection", "starting_up", "shutting_down"},
            expect=("connection",),
        )
        assert await consistent(deployed), "a half-rotated session"


async def ready_both(rec: Recorder) -> bool:
    return all([await rec.ready(r) for r in range(len(rec.urls))])


async def consistent(deployed: Deployment) -> bool:
    """Every session's generation is that of its newest refresh token."""
    rows = await asyncio.to_thread(
        deployed.cluster.sql,
        "SELECT s.id FROM sessions s JOIN refresh_tokens t ON t.session_id = s.id"
        " GROUP BY s.id, s.generation HAVING s.generation <> max(t.generation)"
        " UNION ALL SELECT s.id FROM sessions s WHERE NOT EXISTS"
        " (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id)",
        database=deployed.database,
    )
    if rows:
        print(f"   inconsistent sessions: {rows}")
    return not rows


async def test_failover_to_a_read_only_standby(deployed: Deployment) -> None:
    """A stand-in for a failover to a read-only standby: new connections are read-only. Every
    refresh is a 503 read_only, /readyz too; writable again, service resumes."""
    fault = Fault("read-only database (failover stand-in)")
    database = quote(deployed.database)
    async with recording(deployed) as rec, admin(deployed) as conn, Load(rec) as load:
        await asyncio.sleep(WARMUP)
        fault.began()
        await conn.execute(f"ALTER DATABASE {database} SET default_transaction_read_only = on")
        await terminate(conn, POOL)
        await asyncio.sleep(HOLD)
        await conn.execute(f"ALTER DATABASE {database} RESET default_transaction_read_only")
        await terminate(conn, POOL)
        fault.ended()
        await settled(
            rec,
            load,
            fault,
            {"read_only", "shutting_down", "connection"},
            expect=("read_only",),
        )


async def test_password_rotated(cluster: PgCluster, tmp_path: Path) -> None:
    """A stand-in for a rotated password: the replicas' role now needs another password, and
    their connections are gone. Every answer is a 503 refused; the password back, service
    resumes."""
    database = "password_rotated"
    hba = cluster.data / "pg_hba.conf"
    original = hba.read_text()
    cluster.sql(f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_PASSWORD}'")
    cluster.sql(f"CREATE DATABASE {database} OWNER {APP_ROLE}")
    # Password authentication for that role only (the superuser keeps trust).
    hba.write_text(f"host all {APP_ROLE} 127.0.0.1/32 scram-sha-256\n{original}")
    cluster.sql("SELECT pg_reload_conf()")
    url = f"postgresql://{APP_ROLE}:{APP_PASSWORD}@127.0.0.1:{cluster.port}/{database}"
    fault = Fault("password rotated (refused)")
    try:
        with deployment(cluster, tmp_path, database, url) as deployed:
            async with recording(deployed) as rec, admin(deployed) as conn, Load(rec) as load:
                await asyncio.sleep(WARMUP)
                fault.began()
                await conn.execute(f"ALTER ROLE {APP_ROLE} PASSWORD '{ROTATED_PASSWORD}'")
                await terminate(conn, POOL)
                await asyncio.sleep(HOLD)
                await conn.execute(f"ALTER ROLE {APP_ROLE} PASSWORD '{APP_PASSWORD}'")
                fault.ended()
                await settled(
                    rec,
                    load,
                    fault,
                    {"refused", "shutting_down", "connection"},
                    expect=("refused",),
                )
    finally:
        hba.write_text(original)
        cluster.sql("SELECT pg_reload_conf()")
        cluster.sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        cluster.sql(f"DROP ROLE IF EXISTS {APP_ROLE}")
