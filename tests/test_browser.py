"""The browser client, the demo app and the decoder in real Chromium (Debian's), via Playwright.

The server runs in-process on a real socket with a manual clock; the browser's clock is
Playwright's fake clock. The test moves both together instead of sleeping.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp

from tessera import ManualClock, Tessera, create_app
from tessera.sessions import ClientInfo
from tessera.tokens import AccessTokenPolicy, SigningKey, generate_key
from tests.capture import capture_server
from tests.conftest import PASSWORD, make_settings
from tests.live import add_user, in_process_server, run_async

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TTL = 30  # seconds; lead = min(60, TTL / 3) = 10 s
LEEWAY = 2
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError("Chromium is required in CI: apt-get install -y chromium")
    pytest.skip("Chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

from joserfc.jwk import OctKey  # noqa: E402
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright  # noqa: E402


@dataclass
class Live:
    url: str
    service: Tessera
    clock: ManualClock
    context: BrowserContext

    def refreshes(self, outcome: str = "rotated") -> int:
        value = self.service.metrics.registry.get_sample_value(
            "tessera_refreshes_total", {"outcome": outcome}
        )
        return int(value or 0)

    def advance(self, seconds: float) -> None:
        """Move the server's and the browser's clocks together."""
        self.clock.advance(seconds)
        self.context.clock.fast_forward(int(seconds * 1000))

    def open(self, path: str = "/") -> Page:
        page = self.context.new_page()
        page.goto(self.url + path)
        return page


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live(tmp_path: Path, browser: Browser) -> Iterator[Live]:
    data_dir = tmp_path / "server"
    add_user(data_dir, "alice")
    clock = ManualClock()
    service = Tessera(make_settings(data_dir, access_ttl=TTL, leeway=LEEWAY), clock=clock)
    yield from live_in(browser, service, clock)


@pytest.fixture
def live_unbound(tmp_path: Path, browser: Browser) -> Iterator[Live]:
    """`live` on a server with DPoP off: sessions bound to no key, as for a client without
    WebCrypto (test_browser_dpop.py has the bound ones)."""
    data_dir = tmp_path / "server"
    add_user(data_dir, "alice")
    clock = ManualClock()
    settings = make_settings(data_dir, access_ttl=TTL, leeway=LEEWAY, dpop="off")
    yield from live_in(browser, Tessera(settings, clock=clock), clock)


def live_in(
    browser: Browser, service: Tessera, clock: ManualClock, app: ASGIApp | None = None
) -> Iterator[Live]:
    """`service` (or `app`) served on localhost, and a browser context on its clock."""
    with in_process_server(service, app) as url:
        url = url.replace("127.0.0.1", "localhost")  # a secure context for Secure cookies
        context = browser.new_context()
        context.clock.install(time=clock.now())
        try:
            yield Live(url, service, clock, context)
        finally:
            context.close()


def sign_in(page: Page) -> None:
    page.fill("#username", "alice")
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_selector("#session-card:not(.hidden)")
    expect(page.locator("#fact-sub")).not_to_have_text("–")  # noqa: RUF001 - the placeholder


def timeline(page: Page) -> list[str]:
    return page.locator("#timeline li").all_inner_texts()


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_login_call_expire_refresh_call(live: Live) -> None:
    page = live.open()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    page.wait_for_selector("text=no session: sign in")
    failed.clear()  # the silent restore on load finds no session: that 401 is expected
    sign_in(page)
    page.click("#call-button")
    expect(page.locator("#timeline li[data-kind=request]").nth(1)).to_be_visible()
    before = live.refreshes()
    live.advance(TTL - 5)  # into the lead window: the visible tab refreshes ahead of expiry
    expect(page.locator("#fact-refreshes")).to_have_text("1")
    live.advance(10)  # the old token has expired by now; the new one has not
    page.click("#call-button")
    expect(page.locator("#timeline li[data-kind=request]").nth(2)).to_be_visible()
    assert live.refreshes() == before + 1
    assert failed == []  # not a single failed request
    assert any("/auth/refresh → 200" in line for line in timeline(page))
    screenshot(page, "demo")


def test_two_tabs_rotate_once_per_expiry(live: Live) -> None:
    first = live.open()
    sign_in(first)
    second = live.open()
    second.wait_for_selector("#session-card:not(.hidden)")  # restored through the cookie
    # That restore was a refresh, and its token is handed to the first tab too: let it land
    # before counting, or a slow machine counts it as this expiry's handover.
    handovers = first.locator("#timeline li", has_text="handed over by another tab")
    expect(handovers).to_have_count(1)
    before = live.refreshes()
    earlier = {id(page): len(timeline(page)) for page in (first, second)}
    live.advance(TTL - 5)
    for page in (first, second):
        expect(page.locator("#fact-refreshes")).not_to_have_text("0", timeout=10_000)
    for page in (first, second):
        requests = page.locator("#timeline li[data-kind=request]")
        seen = requests.count()
        page.click("#call-button")
        expect(requests).to_have_count(seen + 1)
        expect(requests.first).to_contain_text("GET /api/me → 200")
    handed_over = [
        line
        for page in (first, second)
        for line in timeline(page)[: len(timeline(page)) - earlier[id(page)]]  # newest first
        if "another tab" in line
    ]
    assert len(handed_over) == 1  # one tab refreshed, the other got its token
    assert live.refreshes() == before + 1
    assert live.refreshes("grace") == 0
    screenshot(second, "demo-second-tab")


def test_server_side_revoke_logs_out_without_looping(live: Live) -> None:
    page = live.open()
    sign_in(page)
    revoke_all(live, page.inner_text("#fact-sub"))
    live.advance(TTL - 5)
    page.wait_for_selector("#login-card:not(.hidden)")
    assert any("session ended" in line for line in timeline(page))
    live.advance(TTL * 3)  # time passes: no further refresh attempts
    page.wait_for_timeout(200)  # the scenario: room for a refresh attempt that must not come
    assert live.refreshes("invalid") == 1


def test_reuse_detection_refuses_the_other_tabs_api_call_at_once(live_unbound: Live) -> None:
    """A thief copied the refresh cookie of a session bound to no key. The browser rotates
    on; the thief's later replay is reuse, which revokes the session — and the other tab's
    next API call, with an access token that has not expired, is refused right away: no
    waiting for its `exp`. (A bound session refuses the thief instead, and lives on.)"""
    live = live_unbound
    first = live.open()
    sign_in(first)
    stolen = next(c["value"] for c in live.context.cookies() if c["name"] == "tessera_refresh")
    before = live.refreshes()
    second = live.open()  # restores the session through the cookie: a rotation
    second.wait_for_selector("#session-card:not(.hidden)")
    requests = second.locator("#timeline li[data-kind=request]")
    expect(requests.first).to_contain_text("GET /api/me → 200")
    assert live.refreshes() == before + 1  # the stolen token is now an old one
    live.advance(11)  # past the grace window; the tabs' access token has ~20 s left

    replay = httpx.post(f"{live.url}/auth/refresh", json={"refresh_token": stolen})
    assert replay.status_code == 401 and "revoked" in replay.json()["error_description"]

    seen = requests.count()
    second.click("#call-button")  # no clock movement: the access token is still unexpired
    second.wait_for_selector("#login-card:not(.hidden)")
    expect(requests).to_have_count(seen + 1)
    expect(requests.first).to_contain_text("GET /api/me → 401")
    assert any("/auth/refresh → 401" in line for line in timeline(second))  # once, then login
    rejected = live.service.metrics.registry.get_sample_value(
        "tessera_rejected_access_tokens_total", {"reason": "revoked"}
    )
    assert rejected == 1
    screenshot(second, "demo-reuse-detected")


def test_reload_restores_the_session(live: Live) -> None:
    page = live.open()
    sign_in(page)
    sub = page.inner_text("#fact-sub")
    page.reload()
    page.wait_for_selector("#session-card:not(.hidden)")
    expect(page.locator("#fact-sub")).to_have_text(sub)


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


def revoke_all(live: Live, subject: str) -> None:
    """Revoke through a second service on the same database, as `tessera sessions revoke`
    would (the server's own store belongs to the server thread's event loop)."""

    async def run() -> None:
        admin = Tessera(live.service.settings, clock=live.clock)
        try:
            await admin.start()
            await admin.sessions.revoke_all(subject, "admin_revoked", ClientInfo())
        finally:
            await admin.close()

    run_async(run())


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


# auth.fetch: the token only to the page's own origin and the listed ones ---------------------

APP_PAGE = """<!doctype html><meta charset="utf-8"><title>an app</title>
<script type="module">
  import { createAuth } from "/auth/tessera.js";
  const api = new URLSearchParams(location.search).get("api");
  window.auth = createAuth({ baseUrl: "/auth", apiOrigins: [api], proactive: false });
</script>"""


@pytest.fixture
def live_app(tmp_path: Path, browser: Browser) -> Iterator[Live]:
    """`live`, serving one more page of the auth server's origin: an app whose tessera.js
    lists the API origin named in its URL (`/app?api=ORIGIN`)."""
    data_dir = tmp_path / "server"
    add_user(data_dir, "alice")
    clock = ManualClock()
    service = Tessera(make_settings(data_dir, access_ttl=TTL, leeway=LEEWAY), clock=clock)
    app = create_app(service)
    app.get("/app", include_in_schema=False)(lambda: HTMLResponse(APP_PAGE))
    yield from live_in(browser, service, clock, app)


def test_fetch_sends_the_token_only_to_its_own_and_listed_origins(live_app: Live) -> None:
    """A third party on another port, reachable as localhost and as 127.0.0.1 (two origins),
    records what it is sent; the app lists the first."""
    live = live_app
    with capture_server() as third_party:
        listed, other = third_party.url("localhost"), third_party.url("127.0.0.1")
        page = live.open("/app?api=" + listed)
        page.wait_for_function("window.auth !== undefined")
        page.evaluate("([user, password]) => auth.login(user, password)", ["alice", PASSWORD])
        token = page.evaluate("auth.accessToken")
        status = "async (url) => (await auth.fetch(url)).status"
        assert page.evaluate(status, "/api/me") == 200
        assert page.evaluate(status, listed + "/listed") == 200
        assert page.evaluate(status, other + "/other") == 200
        before = live.refreshes()
        # A listed API redirects elsewhere, and that answers 401: not a verdict on our token.
        assert page.evaluate(status, f"{listed}/redirect?to={other}/401/moved") == 401
        assert live.refreshes() == before
        live.advance(TTL + 5)  # expired: a request that may carry the token refreshes first
        assert page.evaluate(status, other + "/401/other") == 401  # no refresh, no retry
        assert live.refreshes() == before
        assert page.evaluate(status, "/api/me") == 200
        assert live.refreshes() == before + 1
    preflight = "access-control-request-headers"
    seen = [
        (s.method, s.path, s.authorization, "dpop" in s.headers, s.headers.get(preflight))
        for s in third_party.seen
    ]
    asks = "authorization,dpop"  # the browser asks first, then sends the token and its proof
    assert seen == [
        ("OPTIONS", "/listed", None, False, asks),
        ("GET", "/listed", f"DPoP {token}", True, None),
        ("GET", "/other", None, False, None),
        ("OPTIONS", f"/redirect?to={other}/401/moved", None, False, asks),
        ("GET", f"/redirect?to={other}/401/moved", f"DPoP {token}", True, None),
        # Once; Chromium drops the token on the way, not the proof: the API chose to redirect,
        # and a proof is useless without its token (and names the listed URL, not this one).
        ("OPTIONS", "/401/moved", None, False, "dpop"),
        ("GET", "/401/moved", None, True, None),
        ("GET", "/401/other", None, False, None),
    ]
