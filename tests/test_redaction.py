"""A configured URL's secrets never reach a log line or a health report, wherever in the URL
they sit (issue 15 review, findings 6 and 8).

Finding 6: redis-py takes a password as `?password=`, the only way to give one for a unix
socket; the rate-limit warning printed it. Finding 8: a password with an unencoded `#`, `?`
or `/` ends a URL parser's authority early, so no user-info was found and the whole URL was
shown, by a Verifier's log and `health()` and by a RevocationFeed's `health()`."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tessera.remote import redact_url
from tessera.revocations import RevocationFeed
from tessera.revocations.feed import FeedError
from tessera.verify import InvalidToken, Verifier
from tests.helpers import wait_until
from tests.live import LISTENING, serve

REDIS_PASSWORD = "Redis-Secret-1"
DEMO_LOGIN = re.compile(r"demo login: username '([^']+)', password '([^']+)'")
WAIT = 30.0  # seconds: generous, for a loaded machine


# redact_url on its own -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis+unix:///tmp/r.sock?password=pw1", "redis+unix:///tmp/r.sock?password=***"),
        (
            "redis+unix:///tmp/r.sock?db=2&PassWord=pw1",
            "redis+unix:///tmp/r.sock?db=2&PassWord=***",
        ),
        (
            "postgresql://db/app?sslmode=require&sslpassword=pw1&password=pw2",
            "postgresql://db/app?sslmode=require&sslpassword=***&password=***",
        ),
        (
            "https://idp/jwks?client_secret=pw1;access_token=pw2&api%5Fkey=pw3&v=2",
            "https://idp/jwks?client_secret=***;access_token=***&api%5Fkey=***&v=2",
        ),
        ("https://idp/jwks?pwd=pw1&pass=pw2&key=pw3", "https://idp/jwks?pwd=***&pass=***&key=***"),
        # an unencoded `#` or `?` in the value does not end it
        ("redis+unix:///r.sock?password=p#w?1&db=0", "redis+unix:///r.sock?password=***&db=0"),
        ("https://h/p?v=1?token=pw1", "https://h/p?v=1?token=***"),
        ("https://h/p#secret=pw1", "https://h/p#secret=***"),
        # nothing secret: unchanged
        ("https://idp.example/jwks.json?v=2", "https://idp.example/jwks.json?v=2"),
        ("redis://cache:6379/0?socket_timeout=5", "redis://cache:6379/0?socket_timeout=5"),
    ],
)
def test_secret_query_parameters_are_hidden(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize("delimiter", ["#", "?", "/", "@", "#@?/"])
@pytest.mark.parametrize(
    "template",
    [
        "https://svc:pa{}ss-word@127.0.0.1:9/jwks",
        "redis://:pa{}ss-word@cache:6379/0",
        "postgresql://app:pa{}ss-word@db:5432/tessera?sslmode=require",
    ],
)
def test_user_info_ends_at_the_last_at_sign(template: str, delimiter: str) -> None:
    url = template.format(delimiter)
    shown = redact_url(url)
    assert "pa" not in shown.split("@")[0] and "ss-word" not in shown
    assert shown == template.split("//")[0] + "//***@" + template.split("@")[-1]


# the reviewer's attack: a Verifier and a RevocationFeed configured with such URLs ----------------


@pytest.mark.parametrize("delimiter", ["#", "?", "/"])
def test_verifier_and_feed_keep_an_awkward_password_to_themselves(
    delimiter: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx's own request lines included
    password = f"pa{delimiter}ss-word"
    verifier = Verifier(f"https://svc:{password}@127.0.0.1:9/jwks", issuer="i", audience="a")
    with pytest.raises(InvalidToken) as refused:
        verifier.verify("eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.e30.AAAA")  # kid k1: fetches
    feed = RevocationFeed(f"https://svc:{password}@127.0.0.1:9/revocations", start=False)
    try:
        with pytest.raises(FeedError):
            feed.poll()
        seen = [caplog.text, str(refused.value), json.dumps(verifier.health())]
        seen.append(json.dumps(feed.health()))
    finally:
        feed.close()
    assert "JWKS fetch from https://***@127.0.0.1:9/jwks" in caplog.text
    assert verifier.health()["jwks_url"] == "https://***@127.0.0.1:9/jwks"
    assert feed.health()["url"] == "https://***@127.0.0.1:9/revocations"
    assert "ss-word" not in "\n".join(seen)


# the reviewer's attack on finding 6: a real Redis on a unix socket, then stopped ---------------


@pytest.fixture
def redis_socket(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    """A Redis of our own, on a unix socket only, requiring REDIS_PASSWORD."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    sock = tmp_path / "r.sock"
    options = {
        "port": "0",
        "unixsocket": str(sock),
        "unixsocketperm": "700",
        "requirepass": REDIS_PASSWORD,
        "save": "",
        "appendonly": "no",
        "dir": str(tmp_path),
    }
    process = subprocess.Popen(
        [server, *(part for name, value in options.items() for part in (f"--{name}", value))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: sock.exists() or process.poll() is not None, "redis-server's socket")
        assert process.poll() is None, "redis-server exited"
        yield sock, process
    finally:
        process.terminate()
        process.wait(WAIT)


@pytest.mark.slow
def test_a_redis_password_in_the_query_never_reaches_the_log(
    tmp_path: Path, redis_socket: tuple[Path, subprocess.Popen[bytes]]
) -> None:
    sock, redis_server = redis_socket
    redis_url = f"redis+unix://{sock}?password={REDIS_PASSWORD}"
    with serve(tmp_path / "data", "--demo", env={"TESSERA_REDIS_URL": redis_url}) as served:
        url = served.expect(LISTENING).group(1)
        username, password = served.expect(DEMO_LOGIN).groups()
        body = {"username": username, "password": password, "transport": "body"}
        with httpx.Client(base_url=url, timeout=WAIT) as http:
            assert http.post("/auth/login", json=body).status_code == 200  # through Redis
            redis_server.terminate()
            redis_server.wait(WAIT)
            assert http.post("/auth/login", json=body).status_code == 200  # degraded
        wait_until(
            lambda: "limiting per process" in served.stderr_path.read_text(),
            "the warning that the limits went per process",
        )
    said = "\n".join(served.seen) + served.stderr_path.read_text()
    assert REDIS_PASSWORD not in said
    assert f"rate-limit store redis+unix://{sock}?password=*** unreachable" in said
