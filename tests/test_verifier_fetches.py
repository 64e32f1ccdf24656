"""The verifier's own HTTP reads — its JWKS and its revocation feed — against hostile servers on
127.0.0.1 (issue 15, finding 10): each read is bounded as a whole (a deadline from connect to
last byte, a size cap), anything unreadable counts as "unavailable" (an `InvalidToken`, never
another exception), a failure is retried only after the cooldown, a fetch in flight never holds
up a token whose key is known, and credentials in a configured URL never reach a log."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import select
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import ECKey

from tessera import ManualClock
from tessera.revocations import RevocationFeed
from tessera.revocations.feed import FeedError
from tessera.verify import InvalidToken, JWKSCache, JWKSError, Verifier
from tessera.verify.jwks import read_key_set
from tests.helpers import wait_until
from tests.live import run_async

ISSUER, AUDIENCE = "https://auth.test", "tessera-tests"
DRIP_EVERY = 0.5  # seconds between the bytes of a dripping answer
MARGIN = 3.0  # generous: the deadline is the promise, the margin absorbs a busy machine

Answer = Callable[[BaseHTTPRequestHandler], None]


# a scriptable server ---------------------------------------------------------------------------


class Endpoint:
    """An HTTP server on 127.0.0.1 answering every GET with `answer`; it counts requests and
    remembers their `Authorization` headers. Drip answers set `dripping` when they begin and
    `hung_up` when the client closed the connection on them."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests = 0
        self.authorizations: list[str | None] = []
        self.dripping = threading.Event()
        self.hung_up = threading.Event()
        self.closing = threading.Event()
        self._lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with endpoint._lock:
                    endpoint.requests += 1
                    endpoint.authorizations.append(self.headers.get("Authorization"))
                endpoint.answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/remote"

    def __enter__(self) -> Endpoint:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


def body(data: bytes, *, status: int = 200, length: bool = True) -> Answer:
    """Answer `data` at once (with no Content-Length: the body ends when the connection does)."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Cache-Control", "max-age=300")
        if length:
            handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        with suppress(OSError):  # the client may hang up on a body it does not want
            handler.wfile.write(data)

    return answer


def endless(endpoint_closing: threading.Event) -> Answer:
    """A body that never ends (up to 64 MiB), with no Content-Length."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()
        with suppress(OSError):
            for _ in range(1024):
                if endpoint_closing.is_set():
                    return
                handler.wfile.write(b" " * 65536)

    return answer


HEADERS = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n"


def drip(endpoint: Endpoint, *, at_once: bytes = b"", dripped: bytes = HEADERS[:20]) -> Answer:
    """Send `at_once`, then one byte of `dripped` every DRIP_EVERY seconds (20 bytes: 10 s),
    noticing when the client hangs up."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        connection = handler.connection
        handler.close_connection = True
        with suppress(OSError):
            connection.sendall(at_once)
        endpoint.dripping.set()
        for byte in dripped:
            try:
                connection.sendall(bytes([byte]))
                readable, _, _ = select.select([connection], [], [], DRIP_EVERY)
                if readable and connection.recv(1) == b"":
                    endpoint.hung_up.set()
                    return
            except OSError:
                endpoint.hung_up.set()
                return
            if endpoint.closing.is_set():
                return

    return answer


# keys, tokens, verifiers ------------------------------------------------------------------------


def signing_key(kid: str) -> tuple[ECKey, dict[str, Any]]:
    """A key and its JWKS entry."""
    key = ECKey.generate_key("P-256")
    return key, key.as_dict(private=False) | {"kid": kid, "alg": "ES256", "use": "sig"}


def mint(key: ECKey, kid: str, clock: ManualClock, subject: str = "user-1") -> str:
    """A fresh token (its own `jti`, so never a cache hit)."""
    now = int(clock.now())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "role": "user",
        "sid": "session-1",
        "jti": secrets.token_hex(8),
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    header = {"alg": "ES256", "kid": kid, "typ": "at+jwt"}
    return jwt.encode(header, claims, key, algorithms=["ES256"])


def verifier_for(url: str, clock: ManualClock, timeout: float = 1.0) -> Verifier:
    jwks = JWKSCache(url, clock=clock, timeout=timeout)
    return Verifier(issuer=ISSUER, audience=AUDIENCE, clock=clock, jwks=jwks)


@pytest.fixture
def k1() -> tuple[ECKey, dict[str, Any]]:
    return signing_key("k1")


def jwks_of(*entries: dict[str, Any]) -> bytes:
    return json.dumps({"keys": list(entries)}).encode()


def fetch_workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "tessera-fetch"]


# a JWKS that cannot be read -------------------------------------------------------------------


def _padded(entry: dict[str, Any]) -> bytes:
    return jwks_of(entry) + b" " * 300_000  # valid JSON, over the 256 KiB cap


HOSTILE: dict[str, Callable[[Endpoint, dict[str, Any]], Answer]] = {
    "nested 100 000 deep": lambda ep, entry: body(b"[" * 100_000),
    "nested inside keys": lambda ep, entry: body(b'{"keys": ' + b"[" * 100_000),
    "not JSON": lambda ep, entry: body(b"<html>not a key set</html>"),
    "not UTF-8": lambda ep, entry: body(b'{"keys": [], "note": "\xff\xfe"}'),
    "UTF-16": lambda ep, entry: body(json.dumps({"keys": [entry]}).encode("utf-16")),
    "a list": lambda ep, entry: body(b"[]"),
    "keys not a list": lambda ep, entry: body(json.dumps({"keys": entry}).encode()),
    "duplicate keys member": lambda ep, entry: body(
        b'{"keys": [], "keys": ' + json.dumps([entry]).encode() + b"}"
    ),
    "too large, said up front": lambda ep, entry: body(_padded(entry)),
    "too large, streamed": lambda ep, entry: body(_padded(entry), length=False),
    "endless": lambda ep, entry: endless(ep.closing),
    "503": lambda ep, entry: body(b'{"error": "down"}', status=503),
}


@pytest.mark.parametrize("hostile", list(HOSTILE))
def test_an_unreadable_jwks_is_unavailable_and_not_refetched_within_the_cooldown(
    hostile: str, k1: tuple[ECKey, dict[str, Any]]
) -> None:
    key, entry = k1
    clock = ManualClock()
    with Endpoint(body(b"")) as endpoint:
        endpoint.answer = HOSTILE[hostile](endpoint, entry)
        verifier = verifier_for(endpoint.url, clock)
        with pytest.raises(InvalidToken) as caught:
            verifier.verify(mint(key, "k1", clock))
        assert caught.value.reason == "unknown_key"
        assert "JWKS is unavailable" in caught.value.description
        # Again at once, sync and async, another token: the same answer, and no new request.
        with pytest.raises(InvalidToken) as again:
            verifier.verify(mint(key, "k1", clock))
        assert again.value.description == caught.value.description
        with pytest.raises(InvalidToken) as in_async:
            run_async(verifier.averify(mint(key, "k1", clock)))
        assert in_async.value.description == caught.value.description
        assert endpoint.requests == 1
    health = verifier.health()
    assert health["jwks_healthy"] is False and health["last_error"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
MEMBERS = st.sampled_from(["kty", "crv", "x", "y", "n", "e", "alg", "use", "key_ops", "kid"])
EC_ENTRY = signing_key("k1")[1]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.one_of(
        st.binary(max_size=200),
        JSON.map(lambda value: json.dumps(value).encode()),
        st.dictionaries(MEMBERS, st.text(max_size=8) | JSON, max_size=3).map(
            lambda changes: json.dumps({"keys": [EC_ENTRY | changes]}).encode()
        ),
    )
)
@example(body=json.dumps({"keys": [EC_ENTRY | {"crv": "x"}]}).encode())
def test_any_body_reads_as_a_key_set_or_a_jwks_error(body: bytes) -> None:
    """What a fetch hands the parser: whatever it is, a key set or `JWKSError`, nothing else
    (joserfc alone raises KeyError for an unknown curve)."""
    with suppress(JWKSError):
        assert isinstance(read_key_set(body), dict)


def test_an_entry_joserfc_cannot_import_is_skipped(k1: tuple[ECKey, dict[str, Any]]) -> None:
    key, entry = k1
    clock = ManualClock()
    unknown_curve = entry | {"kid": "k0", "crv": "P-999"}
    with Endpoint(body(jwks_of(unknown_curve, entry))) as endpoint:
        verifier = verifier_for(endpoint.url, clock)
        assert verifier.verify(mint(key, "k1", clock)).sub == "user-1"
        assert verifier.health()["keys"] == ["k1"]


def test_a_legitimate_jwks_near_the_cap_is_read(k1: tuple[ECKey, dict[str, Any]]) -> None:
    key, entry = k1
    clock = ManualClock()
    near_cap = jwks_of(entry) + b" " * 250_000
    with Endpoint(body(near_cap, length=False)) as endpoint:
        verifier = verifier_for(endpoint.url, clock)
        assert verifier.verify(mint(key, "k1", clock)).sub == "user-1"


@pytest.mark.parametrize("failure", ["nested", "503", "drip"])
def test_a_failing_jwks_is_fetched_again_after_the_cooldown_and_then_serves(
    failure: str, k1: tuple[ECKey, dict[str, Any]]
) -> None:
    key, entry = k1
    clock = ManualClock()
    with Endpoint(body(b"")) as endpoint:
        endpoint.answer = {
            "nested": body(b"[" * 100_000),
            "503": body(b"", status=503),
            "drip": drip(endpoint),
        }[failure]
        verifier = verifier_for(endpoint.url, clock, timeout=0.5)
        token = mint(key, "k1", clock)
        for wait in (0.0, 10.0, 19.0):  # within the 30 s cooldown
            clock.advance(wait)
            with pytest.raises(InvalidToken):
                verifier.verify(token)
        assert endpoint.requests == 1
        endpoint.answer = body(jwks_of(entry))
        clock.advance(1.0)  # 30 s after the failed fetch
        assert verifier.verify(token).sub == "user-1"
        assert endpoint.requests == 2
        assert verifier.health()["jwks_healthy"] is True


# a JWKS that drips ------------------------------------------------------------------------------

DRIPS = {
    "headers": {"dripped": HEADERS[:20]},
    "body": {"at_once": HEADERS, "dripped": b" " * 20},
}


@pytest.mark.parametrize("phase", list(DRIPS))
def test_a_dripping_jwks_is_cut_off_at_the_deadline_and_holds_up_no_known_key(
    phase: str, k1: tuple[ECKey, dict[str, Any]]
) -> None:
    key, entry = k1
    deadline = 1.5
    clock = ManualClock()
    outcomes: dict[str, tuple[str, float]] = {}

    def attempt(name: str, token: str) -> None:
        began = time.monotonic()
        try:
            verifier.verify(token)
            outcome = "verified"
        except InvalidToken as exc:
            outcome = exc.reason
        except BaseException as exc:  # noqa: BLE001 - recorded, and the test fails on it
            outcome = repr(exc)
        outcomes[name] = (outcome, time.monotonic() - began)

    with Endpoint(body(jwks_of(entry))) as endpoint:
        verifier = verifier_for(endpoint.url, clock, timeout=deadline)
        verifier.verify(mint(key, "k1", clock))
        endpoint.answer = drip(endpoint, **DRIPS[phase])
        clock.advance(301)  # the key set is stale (max-age 300), and an unknown kid comes
        stranger, _ = signing_key("k2")
        first = threading.Thread(target=attempt, args=("k2", mint(stranger, "k2", clock)))
        first.start()
        assert endpoint.dripping.wait(5)
        # The fetch is in flight. A token whose key is known does not wait for it at all...
        assert verifier.verify(mint(key, "k1", clock, "sync")).sub == "sync"
        assert run_async(verifier.averify(mint(key, "k1", clock, "async"))).sub == "async"
        assert first.is_alive(), "a known kid waited for the JWKS fetch"
        # ...another unknown kid waits for that fetch, and does not redo it once it failed.
        second = threading.Thread(target=attempt, args=("k3", mint(stranger, "k3", clock)))
        second.start()
        first.join(30)
        second.join(30)
        # The client hung up on the drip: no reader is left behind until the drip ends.
        assert endpoint.hung_up.wait(MARGIN)
        wait_until(lambda: not fetch_workers(), "the fetch worker to end", MARGIN)
        assert endpoint.requests == 2
    for name in ("k2", "k3"):
        outcome, took = outcomes[name]
        assert outcome == "unknown_key"
        assert took < deadline + MARGIN, f"{name}: verify() took {took:.1f} s"


# URL credentials ---------------------------------------------------------------------------------


def test_jwks_url_credentials_reach_no_log_or_error(
    caplog: pytest.LogCaptureFixture, k1: tuple[ECKey, dict[str, Any]]
) -> None:
    key, entry = k1
    caplog.set_level(logging.DEBUG)  # every logger, httpx's own request lines included
    clock = ManualClock()
    with Endpoint(body(b"[" * 100_000)) as endpoint:
        url = endpoint.url.replace("http://", "http://user:secret@")
        verifier = verifier_for(url, clock)
        with pytest.raises(InvalidToken) as caught:
            verifier.verify(mint(key, "k1", clock))
        endpoint.answer = body(jwks_of(entry))
        clock.advance(31)
        assert verifier.verify(mint(key, "k1", clock)).sub == "user-1"
    assert "JWKS fetch from http://***@127.0.0.1:" in caplog.text  # the failure, logged
    seen = caplog.text + str(caught.value) + json.dumps(verifier.health())
    assert "secret" not in seen
    basic = "Basic " + base64.b64encode(b"user:secret").decode()
    assert endpoint.authorizations == [basic, basic]  # still sent, as credentials


# the revocation feed -----------------------------------------------------------------------------

PAGE = {"revocations": [], "cursor": 1, "more": False}


@pytest.fixture
def feeds() -> Iterator[list[RevocationFeed]]:
    made: list[RevocationFeed] = []
    yield made
    for feed in made:
        feed.close()


@pytest.mark.parametrize("phase", list(DRIPS))
def test_a_dripping_revocation_feed_is_cut_off_at_its_deadline(
    phase: str, feeds: list[RevocationFeed]
) -> None:
    with Endpoint(body(b"")) as endpoint:
        endpoint.answer = drip(endpoint, **DRIPS[phase])
        feed = RevocationFeed(endpoint.url, wait=0, timeout=1.0, start=False)
        feeds.append(feed)
        began = time.monotonic()
        with pytest.raises(FeedError):
            feed.poll()
        took = time.monotonic() - began
        assert took < 1.0 + MARGIN, f"poll() took {took:.1f} s"
        assert endpoint.hung_up.wait(MARGIN)
        wait_until(lambda: not fetch_workers(), "the fetch worker to end", MARGIN)


FEED_HOSTILE: dict[str, Callable[[Endpoint], Answer]] = {
    "nested": lambda ep: body(b"[" * 100_000),
    "not UTF-8": lambda ep: body(b'{"revocations": [], "cursor": 1, "x": "\xff"}'),
    "duplicate cursor": lambda ep: body(b'{"revocations": [], "cursor": 1, "cursor": 9}'),
    "too large": lambda ep: body(json.dumps(PAGE).encode() + b" " * (1 << 20), length=False),
    "endless": lambda ep: endless(ep.closing),
}


@pytest.mark.parametrize("hostile", list(FEED_HOSTILE))
def test_an_unreadable_revocation_page_is_a_feed_error(
    hostile: str, feeds: list[RevocationFeed]
) -> None:
    with Endpoint(body(b"")) as endpoint:
        endpoint.answer = FEED_HOSTILE[hostile](endpoint)
        feed = RevocationFeed(endpoint.url, wait=0, timeout=2.0, start=False)
        feeds.append(feed)
        with pytest.raises(FeedError):
            feed.poll()
        endpoint.answer = body(json.dumps(PAGE).encode())
        assert feed.poll() == 0 and feed.healthy  # the next good page is read as ever


def test_feed_url_credentials_reach_no_log(
    caplog: pytest.LogCaptureFixture, feeds: list[RevocationFeed]
) -> None:
    caplog.set_level(logging.DEBUG)
    with Endpoint(body(json.dumps(PAGE).encode())) as endpoint:
        url = endpoint.url.replace("http://", "http://user:secret@")
        feed = RevocationFeed(url, wait=0, max_retry_delay=0.05)
        feeds.append(feed)
        assert feed.wait_until_synced(5)
        endpoint.answer = body(b"", status=503)
        wait_until(lambda: not feed.healthy, "the feed's failure", 5.0)
        health = feed.health()
        feed.close()
    assert "revocation feed http://***@127.0.0.1:" in caplog.text  # the failure, logged
    assert "secret" not in caplog.text + json.dumps(health)
    basic = "Basic " + base64.b64encode(b"user:secret").decode()
    assert endpoint.authorizations and set(endpoint.authorizations) == {basic}
