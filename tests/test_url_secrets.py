"""Passwords in configured URLs never reach a log line or a health report (finding 9).

Every test puts PASSWORD_IN_URL in a Redis, database or feed URL and searches everything the
code under test said for it."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tessera import ManualClock, Tessera
from tessera.http.limits import RateLimits
from tessera.logs import configure
from tessera.revocations.feed import RevocationFeed
from tessera.revocations.watch import RevocationWatch
from tessera.store import Revocation, SQLStore
from tests.conftest import PASSWORD, make_settings
from tests.helpers import served
from tests.live import in_process_server

pytestmark = pytest.mark.anyio

PASSWORD_IN_URL = "s3cretpw"
MALFORMED_REDIS = f"redis://:{PASSWORD_IN_URL}@127.0.0.1:notaport/0"
UNREACHABLE_REDIS = f"redis://:{PASSWORD_IN_URL}@127.0.0.1:1/0"
REFUSING_REDIS = f"redis://tessera:{PASSWORD_IN_URL}@127.0.0.1:6379/15"  # no such Redis user
FAILING_DATABASE = f"postgresql://nobody:{PASSWORD_IN_URL}@127.0.0.1:5432/nowhere"


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join([caplog.text, *(r.getMessage() for r in caplog.records)])


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
        deadline = time.monotonic() + 10
        while feed.following and time.monotonic() < deadline:
            time.sleep(0.02)
        health = feed.health()
    finally:
        feed.close()
    assert health["mode"] == "exp_only"
    assert "revocation feed http://***@127.0.0.1:" in logged(caplog)
    assert PASSWORD_IN_URL not in logged(caplog)
    assert PASSWORD_IN_URL not in str(health)


# the last line of defence: every line the server writes ------------------------------------


@pytest.fixture
def configured_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


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
