"""Real Chromium (Debian's) via Playwright against a real server: the browser tests' fixtures
(`browser`, `live`, `live_unbound`: a plugin tests/conftest.py loads) and their helpers.

The server runs in-process on a real socket with a manual clock; the browser's clock is
Playwright's fake clock. The tests move both together instead of sleeping.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from starlette.types import ASGIApp

from tessera import ManualClock, Tessera
from tests.conftest import PASSWORD, make_settings
from tests.live import add_user, in_process_server

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
    """Debian's Chromium, one per test module; its absence is a skip, except in CI."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            raise RuntimeError("Chromium is required in CI: apt-get install -y chromium")
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
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
