"""The JWT decoder page in real Chromium: dates, warnings, keys, and the hand-over from the demo
that never puts a token in a URL (tests/browser.py has the set-up)."""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from joserfc.jwk import OctKey
from playwright.sync_api import Browser, expect

from tessera import Tessera
from tessera.tokens import AccessTokenPolicy, SigningKey, generate_key
from tests.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    TTL,
    Live,
    screenshot,
    sign_in,
)
from tests.conftest import PASSWORD, make_settings
from tests.live import add_user, in_process_server

pytestmark = pytest.mark.slow


def test_decoder_shows_dates_and_makes_no_requests(live: Live) -> None:
    with httpx.Client(base_url=live.url) as client:
        tokens = client.post(
            "/auth/login", json={"username": "alice", "password": PASSWORD, "transport": "body"}
        ).json()
        jwks = client.get("/.well-known/jwks.json").text
    page = live.context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(live.url + "/decoder")
    page.fill("#token", tokens["access_token"])
    assert page.inner_text("#badge") == "valid"
    assert page.inner_text("#relative").startswith("expires in")
    exp = tokens["expires_at"]
    utc = datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert utc in page.inner_text("#times")
    page.fill("#key", jwks)
    page.click("#verify")
    expect(page.locator("#verify-result")).to_contain_text("Signature verified")
    live.context.clock.fast_forward((TTL + 5) * 1000)
    expect(page.locator("#badge")).to_have_text("expired")
    assert page.inner_text("#relative").startswith("expired")
    screenshot(page, "decoder")
    assert requests == [live.url + "/decoder"]  # the document itself, and nothing else


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, object], claims: dict[str, object]) -> str:
    return ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), ""])


def test_decoder_warnings_and_other_keys(live: Live) -> None:
    page = live.context.new_page()
    page.goto(live.url + "/decoder")
    now = int(live.clock.now())
    page.fill("#token", _unsigned({"alg": "none"}, {"sub": "x", "nbf": now + 3600}))
    warnings = page.inner_text("#warnings")
    assert 'alg is "none"' in warnings
    assert "no exp" in warnings
    assert "nbf is in the future" in warnings
    assert page.inner_text("#badge") == "not yet valid"
    page.fill("#token", _unsigned({"alg": "RS256"}, {"iat": now, "exp": now + 3 * 86400}))
    assert "more than 24 h" in page.inner_text("#warnings")
    page.fill("#token", "not.a.token.at.all.really")
    assert page.inner_text("#badge") == "malformed"

    # HS256 with a shared secret, and RS256 with a PEM public key.
    secret = "s" * 40
    hs = generate_key("HS256")
    hs = SigningKey(hs.kid, "HS256", OctKey.import_key(secret.encode()), hs.algorithm)
    policy = AccessTokenPolicy(issuer="https://x", audience="y")
    token, _ = policy.mint(hs, sub="u", role="r", sid="s", now=now, ttl=60)
    page.fill("#token", token)
    page.fill("#key", secret)
    page.select_option("#key-kind", "secret")
    page.click("#verify")
    expect(page.locator("#verify-result")).to_contain_text("Signature verified (HS256")
    page.fill("#key", "t" * 40)
    page.click("#verify")
    expect(page.locator("#verify-result")).to_contain_text("does NOT verify")

    rsa = generate_key("RS256")
    token, _ = policy.mint(rsa, sub="u", role="r", sid="s", now=now, ttl=60)
    page.fill("#token", token)
    page.fill("#key", rsa.key.as_pem(private=False).decode())
    page.select_option("#key-kind", "auto")
    page.click("#verify")
    expect(page.locator("#verify-result")).to_contain_text("Signature verified (RS256, PEM")


# "Open in decoder": the token goes over postMessage, never through a URL -------------------


def profile_files_holding(profile: Path, secret: str) -> list[str]:
    """The files of a closed Chromium profile that contain `secret` anywhere (history,
    sessions, local and session storage, caches)."""
    needle = secret.encode()
    return [
        str(path.relative_to(profile))
        for path in profile.rglob("*")
        if path.is_file() and needle in path.read_bytes()
    ]


def visited_urls(profile: Path) -> list[str]:
    """Every URL in a closed Chromium profile's history database."""
    copy = profile.parent / "History.copy"
    shutil.copy(profile / "Default" / "History", copy)
    with closing(sqlite3.connect(copy)) as db:
        return [url for (url,) in db.execute("SELECT url FROM urls")]


def test_open_in_decoder_hands_the_token_over_without_a_url(
    tmp_path: Path, browser: Browser
) -> None:
    """The finding: "Open in decoder" opened `/decoder#token=…`, and that URL stayed in the
    browser's history database, `history.replaceState` notwithstanding. Here Chromium runs
    with a profile on disk: the browser itself reports the URL the window is opened with,
    and afterwards no file of the profile may hold the token."""
    data_dir = tmp_path / "server"
    add_user(data_dir, "alice")
    service = Tessera(make_settings(data_dir))  # real time, 10-minute tokens
    profile = tmp_path / "profile"
    with in_process_server(service) as url:
        url = url.replace("127.0.0.1", "localhost")
        context = browser.browser_type.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            page = context.new_page()
            opened_urls: list[str] = []
            cdp = context.new_cdp_session(page)
            cdp.on("Page.windowOpen", lambda event: opened_urls.append(event["url"]))
            cdp.send("Page.enable")
            page.goto(url + "/")
            sign_in(page)
            sid = page.inner_text("#fact-sid")
            with context.expect_page() as opened:
                page.click("#decode-link")
            decoder = opened.value
            expect(decoder.locator("#payload")).to_contain_text(f'"sid": "{sid}"')
            expect(decoder.locator("#badge")).to_have_text("valid")
            token = decoder.input_value("#token")
            assert token.count(".") == 2 and len(token) > 100
            assert opened_urls == [url + "/decoder"]
            assert decoder.url == url + "/decoder"
            seen = decoder.evaluate(
                """() => [location.href, document.URL, document.referrer, String(history.state),
                    ...performance.getEntries().map((entry) => entry.name)]"""
            )
            assert not [u for u in seen if token in u or "token=" in u], seen
            stored = decoder.evaluate(
                "() => [...Object.values(localStorage), ...Object.values(sessionStorage)]"
            )
            assert not [value for value in stored if token in value]
            assert decoder.evaluate("() => window.opener") is None  # the hand-over is over
            screenshot(decoder, "decoder-opened-from-demo")
        finally:
            context.close()  # writes the history database and the session files
    assert url + "/decoder" in visited_urls(profile)  # the history did record the window
    assert profile_files_holding(profile, token) == []
    assert profile_files_holding(profile, token.split(".")[2]) == []  # not even a piece


def test_the_decoder_takes_a_token_only_from_its_opener_on_its_origin(live: Live) -> None:
    """A decoder window the demo did not open gets no token from the demo; messages from
    another origin, or from a window other than its opener, are ignored; its opener's is
    taken. And a page on another origin cannot hand one over at all."""
    with httpx.Client(base_url=live.url) as client:
        body = {"username": "alice", "password": PASSWORD, "transport": "body"}
        token = client.post("/auth/login", json=body).json()["access_token"]
    page = live.open()
    sign_in(page)
    with live.context.expect_page() as opened:
        page.evaluate("() => { window.decoder = window.open('/decoder'); }")
    decoder = opened.value
    decoder.wait_for_load_state()
    forged = {"type": "tessera-token", "token": token}
    decoder.evaluate(
        """(data) => {
            const send = (init) => dispatchEvent(new MessageEvent("message", { data, ...init }));
            send({ origin: "http://evil.example", source: window.opener });
            send({ origin: "null", source: window.opener });
            send({ origin: location.origin, source: window });
            send({ origin: location.origin, source: null });
            const opener = { origin: location.origin, source: window.opener };
            send({ ...opener, data: { ...data, type: "other" } });
            send({ ...opener, data: { ...data, token: [1] } });
        }""",
        forged,
    )
    assert decoder.input_value("#token") == ""
    assert decoder.inner_text("#payload") == ""
    # The real opener, on the same origin: taken (so the listener above was listening).
    page.evaluate("(data) => window.decoder.postMessage(data, location.origin)", forged)
    expect(decoder.locator("#token")).to_have_value(token)
    expect(decoder.locator("#payload")).to_contain_text('"sub"')

    # A page on another origin (the same server, as 127.0.0.1) opens the decoder and posts.
    other = live.context.new_page()
    other.goto(live.url.replace("localhost", "127.0.0.1") + "/")
    attempt = "() => window.victim.postMessage({ type: 'tessera-token', token: 'x.y.z' }, '*')"
    with live.context.expect_page() as opened:
        other.evaluate(
            "(target) => { window.victim = window.open(target); }", live.url + "/decoder"
        )
    victim = opened.value
    victim.wait_for_load_state()
    other.evaluate(attempt)
    assert victim.evaluate("() => window.opener") is None  # COOP: no handle across origins
    victim.wait_for_timeout(300)  # give the attempt time to land, if it could
    assert victim.input_value("#token") == ""
