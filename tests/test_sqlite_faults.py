"""SQLite under real faults: a real `tessera serve` on a SQLite data dir, six clients refreshing
their own sessions in a loop, and the database made read-only, the disk filled, or the server
killed with SIGKILL. Whatever happens: no 500, no 401 a healthy database would not have given,
every refusal a 503 `unavailable` with Retry-After counted under its kind, readiness that says
so where it can see the fault, recovery without a restart (but after SIGKILL, where the
restart is the point), and not one session lost.

`pytest -s` prints what each fault looked like from outside: answers by status during the
fault, `tessera_unavailable_total` by kind, refreshes by outcome, and the time from the
fault's end to the first 200 and to /readyz 200 (the figures docs/deploy.md quotes)."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import re
import resource
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.helpers import until
from tests.live import LISTENING, add_user, serve
from tests.read_only import read_only

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

CLIENTS = 6
# Far longer than any test here: a client whose last answer was lost (the server killed after
# it committed the rotation) presents the predecessor, and the grace window replays.
GRACE = 30.0
ENV = {
    "TESSERA_REUSE_GRACE": str(GRACE),
    "TESSERA_REFRESH_LIMIT": "1000000",  # a client retries one token through the whole fault
    "TESSERA_ISSUER": "https://auth.test",
    "TESSERA_AUDIENCE": "tessera-tests",
}
SERVE_ARGS = ("--log-level", "warning")  # no access log: hundreds of lines a second
HTTP_TIMEOUT = 10.0
WARM_UP = 0.5  # seconds of load before the fault
FAULT_FOR = 1.0  # seconds the fault lasts under load (once it shows, where it must)
AFTER_FOR = 0.3  # seconds of load after recovery
PAUSE = 0.01  # a refused client's pause before it tries again (short: we measure recovery)
READY_POLL = 0.1  # between two /readyz probes
RECOVERY = 10.0  # longest a fault may take to show, or to heal, before the test fails
TMPFS_SIZE = "8m"
FILL_CHUNKS = (64 * 1024, 4096)  # large, then page-sized, so not a page is left
SAMPLE = re.compile(r'^(tessera_\w+)_total\{\w+="([^"]*)"\} (\S+)$', re.MULTILINE)


class Load:
    """`CLIENTS` clients, each refreshing its own session as fast as the server answers; each
    keeps the refresh token of its last 200. Answers are counted by phase ("before", "fault",
    "after", or "fault to after" for one asked in the fault and answered after it); anything but
    a 200 or a proper 503 is noted in `wrong`."""

    def __init__(self, url: str, sessions: list[tuple[str, str]]) -> None:
        self.url = url
        self.session_ids = [sid for sid, _ in sessions]
        self.tokens = [token for _, token in sessions]  # each client's last 200
        self.phase = "before"
        self.seen: dict[str, Counter[str]] = {}
        self.ready_seen: dict[str, Counter[int]] = {}
        self.wrong: list[str] = []
        self.fault_ended = 0.0
        self.recovered = 0.0  # when a refresh asked after the fault's end first got a 200

    def phase_of(self, asked: str) -> str:
        """The phase of an answer: the phase it was asked in, or "fault to after" (say) for
        an answer the phase changed under."""
        return asked if asked == self.phase else f"{asked} to {self.phase}"

    def count(self, phase: str, what: str) -> None:
        self.seen.setdefault(phase, Counter())[what] += 1

    def refused(self) -> int:
        return sum(n for what, n in self.seen.get("fault", Counter()).items() if what != "200")

    def end_fault(self) -> None:
        self.fault_ended = time.monotonic()
        self.recovered = 0.0
        self.phase = "after"

    async def client(self, n: int, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:
            while not stop.is_set():
                phase, asked = self.phase, time.monotonic()
                try:
                    answer = await http.post(
                        f"{self.url}/auth/refresh", json={"refresh_token": self.tokens[n]}
                    )
                except httpx.TransportError:
                    self.count(self.phase_of(phase), "no answer")  # down (SIGKILL)
                    await asyncio.sleep(PAUSE)
                    continue
                phase = self.phase_of(phase)
                if answer.status_code == 200:
                    body = answer.json()
                    if body["session_id"] != self.session_ids[n]:
                        self.wrong.append(f"client {n}: another session {body['session_id']}")
                    self.tokens[n] = body["refresh_token"]
                    self.count(phase, "200")
                    if asked >= self.fault_ended > 0 and not self.recovered:
                        self.recovered = time.monotonic()
                    continue
                self.count(phase, f"{answer.status_code} {error_of(answer)}")
                if not proper_503(answer):
                    self.wrong.append(f"client {n} ({phase}): {answer.status_code} {answer.text}")
                await asyncio.sleep(PAUSE)

    async def probe_readiness(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:
            while not stop.is_set():
                phase = self.phase
                try:
                    answer = await http.get(f"{self.url}/readyz")
                except httpx.TransportError:
                    pass
                else:
                    phase = self.phase_of(phase)
                    self.ready_seen.setdefault(phase, Counter())[answer.status_code] += 1
                    if answer.status_code != 200 and not proper_503(answer):
                        self.wrong.append(f"/readyz ({phase}): {answer.status_code} {answer.text}")
                await asyncio.sleep(READY_POLL)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(self.client(n, stop)) for n in range(CLIENTS)]
        tasks.append(asyncio.create_task(self.probe_readiness(stop)))
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks)

    async def wait_recovered(self) -> dict[str, float]:
        """Seconds from the fault's end to /readyz 200, and to the first 200 of a refresh
        asked after it."""
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:

            async def ready() -> bool:
                return (await http.get(f"{self.url}/readyz")).status_code == 200

            await until(ready, "/readyz 200 after the fault", RECOVERY)
            to_ready = time.monotonic() - self.fault_ended
        await until(lambda: self.recovered, "a 200 after the fault", RECOVERY)
        return {"to first 200": self.recovered - self.fault_ended, "to /readyz 200": to_ready}

    async def every_session_refreshes(self) -> None:
        """0 sessions lost: each client's last-200 token still refreshes its own session."""
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:
            for n, token in enumerate(self.tokens):
                answer = await http.post(f"{self.url}/auth/refresh", json={"refresh_token": token})
                assert answer.status_code == 200, f"client {n} lost its session: {answer.text}"
                assert answer.json()["session_id"] == self.session_ids[n]
                self.tokens[n] = answer.json()["refresh_token"]

    def report(self, fault: str, metrics: dict[str, object], **more: object) -> None:
        """What `pytest -s` shows of this fault."""
        print(f"\n[{fault}]")
        for phase, counts in self.seen.items():
            ready = dict(self.ready_seen.get(phase, {}))
            print(f"  answers asked {phase}: {dict(counts)}   /readyz: {ready}")
        for name, counted in metrics.items():
            print(f"  {name}: {counted}")
        for name, value in more.items():
            shown = f"{value * 1000:.0f} ms" if isinstance(value, float) else value
            print(f"  {name.replace('_', ' ')}: {shown}")


def error_of(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("error"))
    except ValueError:
        return "(not json)"


def proper_503(answer: httpx.Response) -> bool:
    return (
        answer.status_code == 503
        and error_of(answer) == "unavailable"
        and answer.headers.get("retry-after", "").isdigit()
        and int(answer.headers["retry-after"]) > 0
    )


def counters(url: str) -> Counter[str]:
    """Every one-label counter of /metrics, as "name{label value}": its count."""
    text = httpx.get(f"{url}/metrics", timeout=HTTP_TIMEOUT).text
    return Counter({f"{name}{{{label}}}": float(n) for name, label, n in SAMPLE.findall(text)})


def grown(url: str, before: Counter[str], *names: str) -> dict[str, dict[str, float]]:
    """How much each label of each counter in `names` grew since `before`."""
    now = counters(url)
    now.subtract(before)
    return {
        f"{name}_total": {
            key.removeprefix(f"{name}{{").removesuffix("}"): n
            for key, n in now.items()
            if n and key.startswith(f"{name}{{")
        }
        for name in names
    }


OUTAGES = "tessera_unavailable"
REFRESHES = "tessera_refreshes"


def log_in(url: str) -> list[tuple[str, str]]:
    """`CLIENTS` sessions of alice's: (session id, refresh token)."""
    sessions = []
    with httpx.Client(base_url=url, timeout=HTTP_TIMEOUT) as http:
        for _ in range(CLIENTS):
            answer = http.post(
                "/auth/login",
                json={"username": "alice", "password": PASSWORD, "transport": "body"},
            )
            assert answer.status_code == 200, answer.text
            sessions.append((answer.json()["session_id"], answer.json()["refresh_token"]))
    return sessions


def database_of(data_dir: Path) -> Path:
    return data_dir / "tessera.db"


def beside(db: Path, suffix: str) -> Path:
    return db.with_name(f"{db.name}-{suffix}")


def integrity(db: Path) -> str:
    """`PRAGMA integrity_check`, on a read-only connection (it changes nothing on disk)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return ", ".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def read_only_files(db: Path) -> list[Path]:
    """What the read-only fault makes read-only: the database, its -wal and its directory.

    Not the -shm of a running server: SQLite maps it into memory, and once it is immutable the
    kernel (here, on ext4) answers the next write to the mapping with SIGBUS — the server dies
    on the spot (exit -7), before Python or SQLite can do anything. Nothing survives that;
    what follows it (a server restarted on the read-only files) is
    `test_a_server_restarted_on_a_read_only_database_serves_503_until_writable`."""
    return [db, beside(db, "wal"), db.parent]


# 1. the database made read-only -------------------------------------------------------------


@pytest.mark.parametrize("wal", [True, False], ids=["db-wal-dir", "db-dir"])
async def test_database_made_read_only_under_load(tmp_path: Path, wal: bool) -> None:
    """The database, its directory, and (`wal`) its -wal made read-only while six clients
    refresh. /readyz says 503 at once (it asks the kernel whether the file and directory take
    writes), and 200 as soon as they do again; no session is lost; no restart.

    What SQLite does depends on the -wal. Immutable, the next commit's write to it fails
    (EPERM: `io_error`), and the connection reopened in its place opens read-only
    (`read_only`): every refresh is a 503. With only the database file and its directory
    read-only, the connections already open keep committing into the -wal, which still takes
    writes (a checkpoint that cannot write the database file fails quietly and the -wal grows
    instead): refreshes go on answering 200 throughout, while /readyz says 503."""
    data_dir = tmp_path / "data"
    add_user(data_dir, "alice")
    db = database_of(data_dir)
    with serve(data_dir, *SERVE_ARGS, env=ENV) as served:
        url = served.expect(LISTENING).group(1)
        load = Load(url, log_in(url))
        async with load.running():
            await asyncio.sleep(WARM_UP)
            before = counters(url)
            files = read_only_files(db) if wal else [db, data_dir]
            with read_only(*files):
                load.phase = "fault"
                await asyncio.sleep(FAULT_FOR)
                during = grown(url, before, OUTAGES, REFRESHES)
            load.end_fault()
            recovery = await load.wait_recovered()
            await asyncio.sleep(AFTER_FOR)
        after = grown(url, before, OUTAGES)
        made = "database, -wal and directory" if wal else "database and directory"
        load.report(f"read-only {made}", {"during": during, "fault to end": after}, **recovery)

        assert load.wrong == []
        assert load.ready_seen["fault"][503] > 0 and set(load.ready_seen["fault"]) == {503}
        kinds = after[f"{OUTAGES}_total"]
        if wal:
            assert load.refused() > 0 and "200" not in load.seen["fault"]
            assert "read_only" in kinds and set(kinds) <= {"read_only", "io_error"}, kinds
        else:  # writes go on through the -wal; only /readyz refuses
            assert load.refused() == 0 and load.seen["fault"]["200"] > 0
            assert set(kinds) == {"read_only"}, kinds
        await load.every_session_refreshes()
    assert integrity(db) == "ok"


def test_a_server_started_on_a_read_only_database_says_so_in_one_line(tmp_path: Path) -> None:
    """A server stopped cleanly leaves no -wal nor -shm; with the database file and its
    directory read-only, SQLite cannot open a WAL database at all (it cannot make the -shm),
    not even to read: `tessera serve` cannot migrate, and exits 1 with one line, no
    traceback. (Before the inline connection was opened lazily, `sqlite3`'s error escaped
    from `Tessera(...)` as a traceback.)"""
    data_dir = tmp_path / "data"
    add_user(data_dir, "alice")
    db = database_of(data_dir)
    assert not beside(db, "shm").exists()
    with read_only(db, data_dir), serve(data_dir, *SERVE_ARGS, env=ENV) as served:
        code = served.process.wait(timeout=RECOVERY)
        stderr = served.stderr_path.read_text()
    print(f"\n[started on a read-only database]\n  exit {code}: {stderr.strip()}")
    assert code == 1
    assert stderr.strip() == "error: the database: unable to open database file"


async def test_a_server_restarted_on_a_read_only_database_serves_503_until_writable(
    tmp_path: Path,
) -> None:
    """A server that died with its files open (SIGKILL here; SIGBUS for an -shm made immutable
    under it, see `read_only_files`) leaves the -wal and -shm behind. Restarted on them made
    read-only — database, -wal, -shm and directory — it starts (reads work), answers /readyz
    and every refresh 503 `read_only`, and serves again once the files are writable, without a
    restart."""
    data_dir = tmp_path / "data"
    add_user(data_dir, "alice")
    with serve(data_dir, *SERVE_ARGS, env=ENV) as served:
        sessions = log_in(served.expect(LISTENING).group(1))
        served.process.kill()
        served.process.wait(timeout=RECOVERY)
    db = database_of(data_dir)
    files = [db, beside(db, "wal"), beside(db, "shm")]
    assert all(f.exists() for f in files)
    with ExitStack() as stack:
        fault = ExitStack()
        stack.callback(fault.close)  # writable again even if the test fails
        fault.enter_context(read_only(*files, data_dir))
        served = stack.enter_context(serve(data_dir, *SERVE_ARGS, env=ENV))
        url = served.expect(LISTENING).group(1)
        load = Load(url, sessions)
        load.phase = "fault"
        before = counters(url)
        async with load.running():
            await until(lambda: load.refused() and load.ready_seen, "503s", RECOVERY)
            await asyncio.sleep(FAULT_FOR)
            during = grown(url, before, OUTAGES, REFRESHES)
            fault.close()
            load.end_fault()
            recovery = await load.wait_recovered()
            await asyncio.sleep(AFTER_FOR)
        after = grown(url, before, OUTAGES)
        load.report("restarted on a read-only database", {"during": during}, **recovery)

        assert load.wrong == []
        assert set(load.ready_seen["fault"]) == {503}
        assert "200" not in load.seen["fault"]
        assert set(after[f"{OUTAGES}_total"]) == {"read_only"}, after
        await load.every_session_refreshes()
    assert integrity(db) == "ok"


# 2. the disk full ---------------------------------------------------------------------------


class Filler:
    """The disk: the data dir on a tmpfs of `TMPFS_SIZE`, filled to the last page."""

    kinds = frozenset({"disk_full"})

    def __init__(self, data_dir: Path) -> None:
        self.filler = data_dir / "filler"
        self.name = f"disk full ({TMPFS_SIZE} tmpfs)"

    def fill(self, _pid: int) -> None:
        written = 0
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for size in FILL_CHUNKS:
                block = bytes(size)
                while True:
                    try:
                        written += os.write(fd, block)
                    except OSError as exc:
                        if exc.errno != errno.ENOSPC:
                            raise
                        break
        finally:
            os.close(fd)
        self.name += f", filled with {written / 2**20:.1f} MiB"

    def free(self) -> None:
        self.filler.unlink()


class SizeLimit:
    """Where no tmpfs can be mounted: the server's file-size limit (RLIMIT_FSIZE) lowered to 0,
    so that its every write fails — with EFBIG, which SQLite reports as an I/O error, not as a
    full disk (Python ignores the SIGXFSZ that comes with it)."""

    kinds = frozenset({"io_error", "disk_full"})
    name = "file-size limit 0 (no tmpfs)"

    def fill(self, pid: int) -> None:
        self.pid = pid
        self.limits = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (0, self.limits[1]))

    def free(self) -> None:
        resource.prlimit(self.pid, resource.RLIMIT_FSIZE, self.limits)


@contextmanager
def small_disk(data_dir: Path) -> Iterator[Filler | SizeLimit]:
    """`data_dir` on a tmpfs of `TMPFS_SIZE` (private to its owner: Tessera refuses a data dir
    others may write to); or, where mounting is not allowed, a plain directory and a server
    whose file-size limit the fault lowers."""
    data_dir.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "tmpfs", str(data_dir)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        if not hasattr(resource, "prlimit"):
            pytest.skip("cannot mount a tmpfs, nor set another process's file-size limit")
        yield SizeLimit()
        return
    try:
        yield Filler(data_dir)
    finally:
        if subprocess.run(["umount", str(data_dir)], check=False).returncode != 0:
            subprocess.run(["umount", "--lazy", str(data_dir)], check=True)


async def test_disk_full_under_load(tmp_path: Path) -> None:
    """The data dir on a small tmpfs, filled to the last page while six clients refresh: a
    commit that needs a page more is a 503 `disk_full` (some still fit, in the -wal's pages
    already written), and the filler deleted, service resumes without a restart. /readyz does
    not see a full disk (it asks whether the database answers and whether the kernel lets it
    write, not whether there is room), and stays 200."""
    data_dir = tmp_path / "disk"
    with small_disk(data_dir) as disk:
        add_user(data_dir, "alice")
        db = database_of(data_dir)
        with serve(data_dir, *SERVE_ARGS, env=ENV) as served:
            url = served.expect(LISTENING).group(1)
            load = Load(url, log_in(url))
            async with load.running():
                await asyncio.sleep(WARM_UP)
                before = counters(url)
                disk.fill(served.process.pid)
                load.phase = "fault"
                await until(load.refused, "a 503 on the full disk", RECOVERY)
                await asyncio.sleep(FAULT_FOR)
                during = grown(url, before, OUTAGES, REFRESHES)
                disk.free()
                load.end_fault()
                recovery = await load.wait_recovered()
                await asyncio.sleep(AFTER_FOR)
            after = grown(url, before, OUTAGES)
            load.report(disk.name, {"during": during, "fault to end": after}, **recovery)

            assert load.wrong == []
            kinds = after[f"{OUTAGES}_total"]
            assert kinds and set(kinds) <= disk.kinds, kinds
            await load.every_session_refreshes()
        assert integrity(db) == "ok"


# 3. SIGKILL mid-load ------------------------------------------------------------------------

DURABLE = """
    SELECT t.session_id, t.generation, s.generation, s.revoked_at
    FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
    WHERE t.token_hash = ?
"""


def answers_lost(db: Path, load: Load) -> int:
    """Checks that every client's last-200 token is on disk, with its session alive at that
    generation or the next (a rotation committed whose answer the kill lost); returns how
    many are at the next. Tokens are stored as their SHA-256 (`refresh_token.token_hash`)."""
    lost = 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for n, token in enumerate(load.tokens):
            found = conn.execute(DURABLE, (hashlib.sha256(token.encode()).digest(),)).fetchone()
            assert found is not None, f"client {n}'s last 200 is not on disk"
            session_id, generation, current, revoked_at = found
            assert session_id == load.session_ids[n] and revoked_at is None
            assert current in (generation, generation + 1), (n, generation, current)
            lost += current - generation
    finally:
        conn.close()
    return lost


async def test_sigkill_mid_load(tmp_path: Path) -> None:
    """`kill -9` while six clients refresh. With the server down, every client's last 200 is
    durable on disk and the file is sound; restarted on the same data dir, every client
    refreshes with its last-200 token — the predecessor of the current one where the kill
    lost a committed rotation's answer, replayed by the grace window."""
    data_dir = tmp_path / "data"
    add_user(data_dir, "alice")
    db = database_of(data_dir)
    with serve(data_dir, *SERVE_ARGS, env=ENV) as served:
        url = served.expect(LISTENING).group(1)
        load = Load(url, log_in(url))
        async with load.running():
            await asyncio.sleep(WARM_UP)
            served.process.kill()
            load.phase = "fault"
            await asyncio.to_thread(served.process.wait, RECOVERY)
            await until(lambda: load.seen.get("fault"), "a refused connection", RECOVERY)
        # Down, and no client asking: the last 200s are final.
        lost = answers_lost(db, load)
        assert integrity(db) == "ok"
    load.end_fault()
    with serve(data_dir, *SERVE_ARGS, env=ENV) as served:
        load.url = served.expect(LISTENING).group(1)
        listening = time.monotonic() - load.fault_ended
        async with load.running():
            recovery = await load.wait_recovered()
            await asyncio.sleep(AFTER_FOR)
        after = grown(load.url, Counter(), OUTAGES, REFRESHES)
        load.report(
            "SIGKILL mid-load",
            {"after the restart": after},
            restart_to_listening=listening,
            **{f"restart {name}": value for name, value in recovery.items()},
            answers_lost_to_the_kill=lost,
        )
        assert load.wrong == []
        assert set(load.seen["fault"]) == {"no answer"}
        await load.every_session_refreshes()
    assert integrity(db) == "ok"
