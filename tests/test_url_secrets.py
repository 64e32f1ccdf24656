"""Passwords in configured URLs never reach a log line, an error message or a health report,
and a malformed Redis URL stops start-up instead of degrading on the first request (finding 9).

Every test puts PASSWORD_IN_URL in a Redis, database or feed URL and searches everything the
code under test said for it."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import httpx
import pytest

from tessera import ManualClock, Settings, Tessera
from tessera.limits.rate_limits import RateLimits
from tessera.logs import configure
from tessera.revocations.feed import RevocationFeed
from tessera.revocations.watch import RevocationWatch
from tessera.store import Revocation, SQLStore
from tests.conftest import PASSWORD, make_settings
from tests.helpers import served, subprocess_env, wait_until
from tests.live import COMMAND, add_user, in_process_server

pytestmark = pytest.mark.anyio

PASSWORD_IN_URL = "s3cretpw"
MALFORMED_REDIS = f"redis://:{PASSWORD_IN_URL}@127.0.0.1:notaport/0"
UNREACHABLE_REDIS = f"redis://:{PASSWORD_IN_URL}@127.0.0.1:1/0"
REFUSING_REDIS = f"redis://tessera:{PASSWORD_IN_URL}@127.0.0.1:6379/15"  # no such Redis user
FAILING_DATABASE = f"postgresql://nobody:{PASSWORD_IN_URL}@127.0.0.1:5432/nowhere"
SHARED_SECRET = "test-secret-shared-by-all-replicas-0123456789"
PROMPTLY = 30.0  # seconds: far longer than a refusal takes, far shorter than a server runs


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join([caplog.text, *(r.getMessage() for r in caplog.records)])


def tessera(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real command, with `env` on top of a clean environment; killed after PROMPTLY."""
    return subprocess.run(
        [*COMMAND, *args, "--data-dir", str(data_dir)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=subprocess_env(**env),
        cwd=data_dir.parent,
        timeout=PROMPTLY,
        check=False,
    )


def refused_cleanly(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert PASSWORD_IN_URL not in output
    assert "Traceback" not in output, output
    assert done.stderr.startswith("error: "), output
    for fragment in fragments:
        assert fragment in done.stderr, output


# a malformed Redis URL: refused at start-up ------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["users", "list"]], ids=" ".join)
def test_a_malformed_redis_url_stops_the_command(tmp_path: Path, command: list[str]) -> None:
    done = tessera(tmp_path / "data", *command, TESSERA_REDIS_URL=MALFORMED_REDIS)
    refused_cleanly(done, "TESSERA_REDIS_URL", "port")
    assert not (tmp_path / "data").exists()  # refused before anything was created


def test_an_embedded_service_refuses_a_malformed_redis_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TESSERA_REDIS_URL", MALFORMED_REDIS)
    with pytest.raises(ValueError, match="redis_url") as refused:
        Tessera()
    assert PASSWORD_IN_URL not in str(refused.value)


# a well-formed Redis URL that does not work: degrade, and say so without the password -------


@pytest.mark.parametrize("redis_url", [UNREACHABLE_REDIS, REFUSING_REDIS], ids=["down", "auth"])
async def test_rate_limit_store_warning_hides_the_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, redis_url: str
) -> None:
    caplog.set_level(logging.WARNING, "tessera.limits")
    async with served(make_settings(tmp_path / "d", redis_url=redis_url)) as (service, client):
        await service.users.add("alice", PASSWORD)
        body = {"username": "alice", "password": PASSWORD, "transport": "body"}
        assert (await client.post("/auth/login", json=body)).status_code == 200  # degraded
    warning = logged(caplog)
    assert "redis://***@127.0.0.1" in warning and "limiting per process" in warning
    assert PASSWORD_IN_URL not in warning


async def test_a_store_error_quoting_the_url_is_not_logged_with_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`limits` puts the URL in its own error when it cannot parse it; a URL can reach it
    unchecked when settings are copied with `model_copy(update=...)`."""
    caplog.set_level(logging.WARNING, "tessera.limits")
    limits = RateLimits(
        login_per_user=5,
        login_per_user_total=5,
        login_per_ip=5,
        login_window=60,
        refresh_per_token=5,
        refresh_window=60,
        redis_url=MALFORMED_REDIS,
    )
    await limits.login_attempt("alice", "203.0.113.7")  # limited per process meanwhile
    assert "rate-limit store redis://***@127.0.0.1:notaport/0" in logged(caplog)
    assert PASSWORD_IN_URL not in logged(caplog)


# the database ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["users", "list"]], ids=" ".join)
def test_a_database_that_refuses_us_is_one_clean_line(tmp_path: Path, command: list[str]) -> None:
    env = {"TESSERA_DATABASE_URL": FAILING_DATABASE, "TESSERA_SECRET": SHARED_SECRET}
    refused_cleanly(tessera(tmp_path / "data", *command, **env), "error: ")


class QuotingStore(SQLStore):
    """A real store whose driver error quotes the URL it could not reach (as some drivers'
    connection errors do)."""

    async def revocations_after(self, cursor: int, limit: int) -> list[Revocation]:
        raise ConnectionError(f"cannot connect to {FAILING_DATABASE}")


async def test_revocation_watch_hides_the_password_in_logs_and_health(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "tessera.revocations")
    store = QuotingStore.from_url(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    watch = RevocationWatch(store, ManualClock(), poll_interval=1)
    try:
        await watch.published()  # the read fails; the watch logs it and reports unhealthy
    finally:
        await store.close()
    assert "cannot connect to postgresql://***@127.0.0.1:5432/nowhere" in logged(caplog)
    assert watch.health()["healthy"] is False
    assert PASSWORD_IN_URL not in logged(caplog)
    assert PASSWORD_IN_URL not in str(watch.health())


# the revocation feed other services follow -------------------------------------------------


@pytest.mark.slow
def test_revocation_feed_hides_credentials_in_its_url(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A feed URL with credentials in it, followed until its server goes away."""
    caplog.set_level(logging.WARNING, "tessera.revocations")
    with in_process_server(Tessera(make_settings(tmp_path / "d"))) as base:
        url = base.replace("http://", f"http://feed:{PASSWORD_IN_URL}@") + "/auth/revocations"
        feed = RevocationFeed(url, wait=0.2, allow_http=True)
        assert feed.wait_until_synced(10)
    try:
        wait_until(lambda: not feed.following, "the feed to give up on the gone server")
        health = feed.health()
    finally:
        feed.close()
    assert health["mode"] == "exp_only"
    assert "revocation feed http://***@127.0.0.1:" in logged(caplog)
    assert PASSWORD_IN_URL not in logged(caplog)
    assert PASSWORD_IN_URL not in str(health)


# `tessera decode --jwks URL` -----------------------------------------------------------------


@pytest.mark.slow
def test_decode_never_prints_the_credentials_of_a_jwks_url(tmp_path: Path) -> None:
    add_user(tmp_path / "d", "alice")
    with in_process_server(Tessera(make_settings(tmp_path / "d"))) as base:
        body = {"username": "alice", "password": PASSWORD, "transport": "body"}
        token = httpx.post(f"{base}/auth/login", json=body).json()["access_token"]
        jwks = base.replace("http://", f"http://ops:{PASSWORD_IN_URL}@") + "/.well-known/jwks.json"
        verified = decode(token, "--jwks", jwks)
    unreachable = decode(token, "--jwks", f"http://ops:{PASSWORD_IN_URL}@127.0.0.1:1/jwks.json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "from JWKS http://***@127.0.0.1:" in verified.stdout
    assert unreachable.returncode == 2
    assert "cannot fetch http://***@127.0.0.1:1/jwks.json" in unreachable.stderr
    for done in (verified, unreachable):
        assert PASSWORD_IN_URL not in done.stdout + done.stderr


def decode(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, "decode", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=subprocess_env(NO_COLOR="1"),
        timeout=PROMPTLY,
        check=False,
    )


# the last line of defence: every line the server writes ------------------------------------


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_server_log_lines_hide_url_user_info_whoever_writes_them(
    capsys: pytest.CaptureFixture[str], configured_logging: None, log_format: str
) -> None:
    configure(log_format, "info")
    try:
        raise ConnectionError(f"driver could not reach {FAILING_DATABASE}")
    except ConnectionError:
        logging.getLogger("some.library").exception("failed at %s", UNREACHABLE_REDIS)
    written = capsys.readouterr().err
    assert "postgresql://***@127.0.0.1:5432/nowhere" in written
    assert "redis://***@127.0.0.1:1/0" in written
    assert PASSWORD_IN_URL not in written


def test_settings_errors_never_repeat_the_value() -> None:
    with pytest.raises(ValueError) as refused:
        Settings(redis_url=MALFORMED_REDIS, oauth_introspection_clients=f"api:{PASSWORD_IN_URL}")
    assert "redis_url" in str(refused.value)
    assert "oauth_introspection_clients" in str(refused.value)
    assert PASSWORD_IN_URL not in str(refused.value)


def test_settings_repr_leaves_the_urls_out() -> None:
    """A repr reaches tracebacks and debug output."""
    settings = Settings(redis_url=UNREACHABLE_REDIS, database_url=FAILING_DATABASE, secret="x" * 32)
    assert PASSWORD_IN_URL not in repr(settings) and PASSWORD_IN_URL not in str(settings)
