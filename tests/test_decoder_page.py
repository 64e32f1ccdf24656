"""The decoder page, as the server assembles it (inspect.js inlined, under its CSP), in real
Chromium: for every case of the one table (tests/inspection_cases.json) it shows the status
and the warnings that `tessera decode` reports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route

from tessera.web import decoder_page
from tests.test_browser import browser  # noqa: F401 - the fixture (and Chromium's skip rules)

pytestmark = pytest.mark.slow

TABLE: dict[str, Any] = json.loads(Path(__file__).with_name("inspection_cases.json").read_text())
BADGES = {
    "valid": "valid",
    "expired": "expired",
    "not_yet_valid": "not yet valid",
    "no_expiry": "no expiry",
    "malformed": "malformed",
}
URL = "https://decoder.test/decoder"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:  # noqa: F811 - the fixture above
    html, csp = decoder_page()
    context = browser.new_context()

    def serve(route: Route) -> None:
        headers = {"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": csp}
        route.fulfill(status=200, body=html, headers=headers)

    context.route("**/*", lambda route: route.abort())  # nothing else may load
    context.route(URL, serve)  # the later route comes first
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text))  # CSP reports land here
    page.clock.set_fixed_time(TABLE["now"])  # seconds
    page.goto(URL)
    yield page
    context.close()
    assert errors == []


def test_the_page_says_what_the_table_says(page: Page) -> None:
    wrong: list[str] = []
    checked = 0
    for case in TABLE["cases"]:
        if case.get("leeway") or case["error"] == "the token is empty":
            continue  # the page has no leeway; an empty box is no token to judge
        page.fill("#token", case["token"])
        badge = page.text_content("#badge")
        warnings = page.eval_on_selector_all(
            "#warnings li", "items => items.map(i => i.textContent)"
        )
        error = page.text_content("#decode-error") or ""
        if badge != BADGES[case["status"]]:
            wrong.append(f"{case['name']}: badge {badge!r}")
        if warnings != case["warnings"]:
            wrong.append(f"{case['name']}: warnings {warnings!r}")
        if case["error"] is not None and case["error"] not in error:
            wrong.append(f"{case['name']}: error {error!r}")
        checked += 1
    assert wrong == []
    assert checked > 50


def test_an_empty_box_shows_no_verdict(page: Page) -> None:
    page.fill("#token", " \t")
    assert page.text_content("#badge") == "—"
    assert page.text_content("#decode-error") == ""
