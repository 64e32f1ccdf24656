""" "Your devices" in real Chromium against a real server: `auth.sessions()`,
`auth.revokeSession(id)` and `auth.revokeOtherSessions()`, and the demo page's list, with two
browser contexts — two devices — signed in as the same user (tests/browser.py has the set-up).
The server's clock and both browsers' move together."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.responses import HTMLResponse
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tessera import ManualClock, Tessera, create_app
from tests.browser import LEEWAY, TTL, screenshot, sign_in
from tests.conftest import PASSWORD, make_settings
from tests.live import add_user, in_process_server

pytestmark = pytest.mark.slow

FIREFOX_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
)
POLL = 20  # seconds: how often the demo lists the devices again (DEVICES_EVERY_MS)

APP_PAGE = """<!doctype html><meta charset="utf-8"><title>an app</title>
<script type="module">
  import { createAuth } from "/auth/tessera.js";
  window.events = [];
  window.auth = createAuth({ baseUrl: "/auth", proactive: false });
  auth.on("logout", ({ reason }) => events.push(reason));
</script>"""


@dataclass
class Devices:
    """One server and two browser contexts on its clock: a laptop and a phone."""

    url: str
    clock: ManualClock
    laptop: BrowserContext
    phone: BrowserContext

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        for context in (self.laptop, self.phone):
            context.clock.fast_forward(int(seconds * 1000))

    def open(self, context: BrowserContext, path: str = "/") -> Page:
        page = context.new_page()
        page.goto(self.url + path)
        return page


@pytest.fixture
def devices(tmp_path: Path, browser: Browser) -> Iterator[Devices]:
    data_dir = tmp_path / "server"
    add_user(data_dir, "alice")
    clock = ManualClock()
    service = Tessera(make_settings(data_dir, access_ttl=TTL, leeway=LEEWAY), clock=clock)
    app = create_app(service)
    app.get("/app", include_in_schema=False)(lambda: HTMLResponse(APP_PAGE))
    with in_process_server(service, app) as url:
        url = url.replace("127.0.0.1", "localhost")
        laptop = browser.new_context()
        phone = browser.new_context(user_agent=FIREFOX_ON_WINDOWS)
        for context in (laptop, phone):
            context.clock.install(time=clock.now())
        try:
            yield Devices(url, clock, laptop, phone)
        finally:
            laptop.close()
            phone.close()


def app_login(devices: Devices, context: BrowserContext) -> Page:
    page = devices.open(context, "/app")
    page.wait_for_function("window.auth !== undefined")
    page.evaluate("([user, password]) => auth.login(user, password)", ["alice", PASSWORD])
    return page


def status(page: Page) -> int:
    return int(page.evaluate("async () => (await auth.fetch('/api/me')).status"))


def test_the_sessions_api_lists_and_signs_out_devices(devices: Devices) -> None:
    laptop = app_login(devices, devices.laptop)
    devices.advance(1)  # newest first: the phone signed in later
    phone = app_login(devices, devices.phone)
    listed = laptop.evaluate("auth.sessions()")
    assert [s["id"] for s in listed] == [
        phone.evaluate("auth.sessionId"),
        laptop.evaluate("auth.sessionId"),
    ]
    assert [(s["device"], s["current"], s["ip"]) for s in listed] == [
        ("Firefox on Windows", False, "127.0.0.1"),
        ("Chrome on Linux", True, "127.0.0.1"),
    ]
    now_ms = devices.clock.now() * 1000
    for item in listed:
        assert item["userAgent"]
        assert abs(item["createdAt"] - now_ms) < 5_000 and item["lastUsedAt"] >= item["createdAt"]
        assert item["expiresAt"] > now_ms and item["refreshExpiresAt"] > now_ms
    # The phone's own list marks the phone.
    assert [s["current"] for s in phone.evaluate("auth.sessions()")] == [True, False]

    assert laptop.evaluate("auth.revokeSession('no-such-session')") is False
    assert laptop.evaluate("(id) => auth.revokeSession(id)", listed[0]["id"]) is True
    assert status(phone) == 401  # refused at once, refreshed (401): the phone's session is over
    assert phone.evaluate("[events, auth.accessToken]") == [["session_ended"], None]
    assert status(laptop) == 200
    assert [s["current"] for s in laptop.evaluate("auth.sessions()")] == [True]

    # Signing out one's own session is a logout.
    phone = app_login(devices, devices.phone)
    own = phone.evaluate("auth.sessionId")
    assert phone.evaluate("(id) => auth.revokeSession(id)", own) is True
    assert phone.evaluate("[events, auth.accessToken]") == [["logout"], None]
    assert [s["current"] for s in laptop.evaluate("auth.sessions()")] == [True]

    # All the others: the laptop goes on, the phone is out.
    phone = app_login(devices, devices.phone)
    assert laptop.evaluate("auth.revokeOtherSessions()") is None
    assert status(laptop) == 200
    assert status(phone) == 401
    assert [s["id"] for s in laptop.evaluate("auth.sessions()")] == [
        laptop.evaluate("auth.sessionId")
    ]
    # Once the session is over, the calls say so.
    error = "async () => auth.sessions().then(() => null, (e) => [e.name, e.status, e.code])"
    assert phone.evaluate(error) == ["RequestError", 401, "invalid_token"]


def device_rows(page: Page) -> list[tuple[str, str]]:
    """Each row's device name (with its badge, as written) and its line of facts."""
    names = page.locator("#devices li .device").all_text_contents()
    return list(zip(names, page.locator("#devices li .meta").all_text_contents(), strict=True))


def test_your_devices_on_the_demo_page(devices: Devices) -> None:
    laptop = devices.open(devices.laptop)
    sign_in(laptop)
    rows = laptop.locator("#devices li")
    expect(rows).to_have_count(1)
    expect(laptop.locator("#revoke-others-button")).to_be_disabled()
    devices.advance(1)  # newest first: the phone signed in later
    phone = devices.open(devices.phone)
    sign_in(phone)
    expect(phone.locator("#devices li")).to_have_count(2)
    devices.advance(POLL)  # the laptop lists the devices again
    expect(rows).to_have_count(2)
    laptop_sid, phone_sid = laptop.inner_text("#fact-sid"), phone.inner_text("#fact-sid")
    for page, own, other in ((laptop, laptop_sid, phone_sid), (phone, phone_sid, laptop_sid)):
        expect(page.locator(f'#devices li[data-session="{own}"] .badge')).to_have_text(
            "this device"
        )
        expect(page.locator(f'#devices li[data-session="{other}"] .badge')).to_have_count(0)
    (phone_name, phone_facts), (laptop_name, laptop_facts) = device_rows(laptop)  # newest first
    assert (phone_name, laptop_name) == ("Firefox on Windows", "Chrome on Linuxthis device")
    assert phone_facts.startswith("127.0.0.1 · signed in ")
    assert laptop_facts.endswith(" · last active just now")
    expect(laptop.locator("#revoke-others-button")).to_be_enabled()
    screenshot(laptop, "demo-devices")

    # The laptop signs the phone out: the phone's next call lands on the login card.
    laptop.locator(f'#devices li[data-session="{phone_sid}"] button').click()
    expect(rows).to_have_count(1)
    expect(laptop.locator("#timeline li").first).to_contain_text("signed out Firefox on Windows")
    phone.click("#call-button")
    phone.wait_for_selector("#login-card:not(.hidden)")
    expect(phone.locator("#devices-card")).to_be_hidden()

    # The phone again; then "sign out all other devices" on the laptop.
    sign_in(phone)
    devices.advance(POLL)
    expect(rows).to_have_count(2)
    laptop.click("#revoke-others-button")
    expect(rows).to_have_count(1)
    expect(laptop.locator(f'#devices li[data-session="{laptop_sid}"]')).to_have_count(1)
    phone.click("#call-button")
    phone.wait_for_selector("#login-card:not(.hidden)")
    laptop.click("#call-button")
    expect(laptop.locator("#timeline li[data-kind=request]").first).to_contain_text("→ 200")
    expect(laptop.locator("#session-card")).to_be_visible()

    # Signing this device out from the list is signing out.
    laptop.locator(f'#devices li[data-session="{laptop_sid}"] button').click()
    laptop.wait_for_selector("#login-card:not(.hidden)")
