"""The systems under test, started as their users would run them, each pinned to one core.

- Tessera: its own app under uvicorn (one process, one event loop), as `tessera serve`.
- simplejwt: Django REST framework under gunicorn, sync workers.
- flask-jwt-extended: Flask under gunicorn, sync workers.

gunicorn's docs suggest (2 x cores) + 1 workers: 3 for the one core each server gets.

Each can sign with another algorithm (`start(..., alg=...)`): Tessera with RS256 (its default),
ES256 or EdDSA; the peers with HS256 (their default) or RS256 (a 2048-bit key made for the run,
as Tessera's), so a ratio can compare like with like.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.server import DEMO, LISTENING

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_WORKERS = 3
USERNAME = "bench"
PASSWORD = "correct-horse-battery-staple"
SECRET = "bench-" + "s" * 40


@dataclass(frozen=True)
class Api:
    """How one system spells login, refresh and a protected request."""

    login_path: str
    refresh_path: str
    protected_path: str
    login_extra: dict[str, str]
    access_field: str
    refresh_field: str
    refresh_in: str  # "body:<field>" or "bearer"
    open_path: str | None = None
    dependency_path: str | None = None  # the open route behind a FastAPI dependency (no-op)

    def login_body(self, username: str, password: str) -> dict[str, str]:
        return {"username": username, "password": password, **self.login_extra}

    def refresh_request(self, token: str) -> tuple[dict[str, Any], dict[str, str]]:
        if self.refresh_in == "bearer":
            return {}, {"Authorization": f"Bearer {token}"}
        return {self.refresh_in.removeprefix("body:"): token}, {}

    def tokens(self, body: bytes) -> tuple[str, str]:
        data = json.loads(body)
        return data[self.access_field], data[self.refresh_field]


TESSERA = Api(
    "/auth/login",
    "/auth/refresh",
    "/api/me",
    {"transport": "body"},
    "access_token",
    "refresh_token",
    "body:refresh_token",
    open_path="/bench/open",
    dependency_path="/bench/depends",
)
SIMPLEJWT = Api(
    "/api/token/", "/api/token/refresh/", "/api/me", {}, "access", "refresh", "body:refresh"
)
FLASK_JWT = Api("/login", "/refresh", "/api/me", {}, "access_token", "refresh_token", "bearer")

SYSTEMS = {
    "tessera": ("Tessera", TESSERA),
    "simplejwt": ("DRF + simplejwt", SIMPLEJWT),
    "flask-jwt-extended": ("Flask + flask-jwt-extended", FLASK_JWT),
}
# Each system's default algorithm first, then the others it runs with.
ALGORITHMS = {
    "tessera": ("RS256", "ES256", "EdDSA"),
    "simplejwt": ("HS256", "RS256"),
    "flask-jwt-extended": ("HS256", "RS256"),
}


@functools.cache
def _rsa_pem() -> tuple[str, str]:
    """A 2048-bit RSA key pair (private, public PEM) for the peers' RS256 runs."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private.decode(), public.decode()


@dataclass(frozen=True)
class Running:
    system: str
    label: str
    database: str
    url: str
    pid: int
    api: Api
    username: str
    password: str
    workdir: Path
    alg: str = ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pinned(command: list[str], cpu: int | None) -> list[str]:
    return ["taskset", "-c", str(cpu), *command] if cpu is not None else command


def _wait_http(url: str, process: subprocess.Popen[str], seconds: float = 60) -> None:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection((host, int(port)), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not start")


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def start(
    system: str,
    database: str | None,
    cpu: int | None,
    alg: str | None = None,
    cheap_logins: bool = False,
    root: Path = ROOT,
) -> Iterator[Running]:
    """Start `system` on SQLite (`database` None) or on the PostgreSQL URL given, signing with
    `alg` (default: the system's own default). Tessera's log (access log on, as shipped) goes
    to `server.log` in its work dir. `cheap_logins`: a cheap password hash, for a server
    whose logins only set its users up (only its refreshes are measured). `root`: the checkout
    whose `src/` and `bench.peers` Tessera runs from (another one, for an A/B: `bench.ab`)."""
    label, api = SYSTEMS[system]
    alg = alg or ALGORITHMS[system][0]
    kind = "PostgreSQL" if database else "SQLite"
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"bench-{system}-")))
        # A checkout's code (src/, and bench.peers), not whatever the venv installed.
        env = {
            **os.environ,
            "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root}",
            "BENCH_SECRET": SECRET,
        }
        python = sys.executable
        if system == "tessera":
            env.update(
                TESSERA_DATA_DIR=str(workdir),
                TESSERA_SECRET=SECRET,
                TESSERA_LOGIN_LIMIT_PER_USER="1000000",
                TESSERA_LOGIN_LIMIT_PER_USER_TOTAL="1000000",
                TESSERA_LOGIN_LIMIT_PER_IP="1000000",
                # Every virtual user comes from 127.0.0.1 and retries at once: no shedding, as
                # the peers have none (`bench.login_flood` measures the bounds as shipped).
                TESSERA_LOGIN_MAX_IN_FLIGHT="1000000",
                TESSERA_LOGIN_MAX_IN_FLIGHT_PER_IP="1000000",
            )
            env["TESSERA_ALGORITHM"] = alg
            if cheap_logins:
                env.update(TESSERA_ARGON2_TIME_COST="1", TESSERA_ARGON2_MEMORY_KIB="8192")
            if database:
                env["TESSERA_DATABASE_URL"] = database
            command = [python, "-m", "bench.peers.tessera_app", "0"]
            log = (workdir / "server.log").open("w")
            stack.callback(log.close)
            process = subprocess.Popen(
                _pinned(command, cpu),
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=env,
                cwd=root,
            )
            try:
                url = username = password = None
                assert process.stdout is not None
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and not (url and password):
                    line = process.stdout.readline()
                    if not line:
                        break
                    if match := LISTENING.search(line):
                        url = match.group(1)
                    if match := DEMO.search(line):
                        username, password = match.groups()
                if not (url and username and password):
                    raise RuntimeError("Tessera did not start")
                yield Running(
                    system, label, kind, url, process.pid, api, username, password, workdir, alg
                )
            finally:
                _stop(process)
            return
        module = {"simplejwt": "bench.peers.drf_app", "flask-jwt-extended": "bench.peers.flask_app"}
        env["BENCH_DATABASE_URL"] = database or f"sqlite:///{workdir / 'peer.db'}"
        env["BENCH_JWT_ALG"] = alg
        if cheap_logins:
            env["BENCH_CHEAP_LOGINS"] = "1"
        if alg != "HS256":
            env["BENCH_JWT_PRIVATE_KEY"], env["BENCH_JWT_PUBLIC_KEY"] = _rsa_pem()
        subprocess.run(
            [python, "-m", module[system], "setup", USERNAME, PASSWORD],
            env=env,
            cwd=ROOT,
            check=True,
        )
        port = _free_port()
        target = f"{module[system]}:{'application' if system == 'simplejwt' else 'app'}"
        command = [
            str(Path(python).with_name("gunicorn")),
            "--workers",
            str(GUNICORN_WORKERS),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            target,
        ]
        process = subprocess.Popen(_pinned(command, cpu), env=env, cwd=ROOT, text=True)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_http(url, process)
            time.sleep(1.0)  # the workers boot after the master binds
            yield Running(
                system, label, kind, url, process.pid, api, USERNAME, PASSWORD, workdir, alg
            )
        finally:
            _stop(process)


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of `pid` and all its descendants (gunicorn: master plus workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` and its living descendants (gunicorn's workers,
    `tessera serve --workers`' workers): the server's own CPU, whatever else runs."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        if current in stats:  # utime and stime: fields 14 and 15 of stat, 12 and 13 here
            total += int(stats[current][11]) + int(stats[current][12])
    return total / CLOCK_TICKS
