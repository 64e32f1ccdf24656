"""The browser client and the demo app in real Chromium (tests/browser.py has the set-up)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.responses import HTMLResponse
from playwright.sync_api import Browser, Route, expect

from tessera import ManualClock, Tessera, create_app
from tessera.sessions import ClientInfo
from tests.browser import (
    LEEWAY,
    TTL,
    Live,
    live_in,
    screenshot,
    sign_in,
    timeline,
)
from tests.capture import capture_server
from tests.conftest import PASSWORD, make_settings
from tests.live import add_user, run_async

pytestmark = pytest.mark.slow


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


def test_the_form_opens_only_after_the_session_check(live: Live) -> None:
    """Signing in before the page's script is ready would send the form natively, the
    password in the URL (and a late "no session" answer would hide a fresh session): the
    form stays disabled until the silent restore has answered."""
    held: list[Route] = []
    page = live.context.new_page()
    page.route("**/auth/refresh", lambda route: held.append(route))
    with page.expect_request("**/auth/refresh"):
        page.goto(live.url + "/")
    for field in ("#username", "#password", "#login-button"):
        expect(page.locator(field)).to_be_disabled()
    held[0].continue_()
    expect(page.locator("#login-button")).to_be_enabled()
    page.wait_for_selector("text=no session: sign in")
    sign_in(page)
    assert "?" not in page.url


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
    expect(page.locator("#fact-sub")).to_have_text("alice")  # the user's name, not the id
    revoke_all(live, "alice")
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


def revoke_all(live: Live, username: str) -> None:
    """Revoke through a second service on the same database, as `tessera sessions revoke`
    would (the server's own store belongs to the server thread's event loop)."""

    async def run() -> None:
        admin = Tessera(live.service.settings, clock=live.clock)
        try:
            await admin.start()
            user = await admin.users.get(username)
            assert user is not None
            await admin.sessions.revoke_all(user.id, "admin_revoked", ClientInfo())
        finally:
            await admin.close()

    run_async(run())


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
