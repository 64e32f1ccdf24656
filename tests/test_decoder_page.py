"""The decoder page, as the server assembles it (inspect.js and its modules inlined, under its
CSP), in real Chromium: for every case of the one table (tests/inspection_cases.json) it shows
the status and the warnings that `tessera decode` reports, a bound token's `cnf.jkt`, and a
DPoP proof's request, key and RFC 7638 thumbprint (WebCrypto's)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tessera.web import decoder_page

pytestmark = pytest.mark.slow

TABLE: dict[str, Any] = json.loads(Path(__file__).with_name("inspection_cases.json").read_text())
BADGES = {
    "valid": "valid",
    "expired": "expired",
    "not_yet_valid": "not yet valid",
    "no_expiry": "no expiry",
    "malformed": "malformed",
    "fresh": "fresh proof",
    "stale": "stale proof",
}
PRIVATE_KEY = "private key exposed"
URL = "https://decoder.test/decoder"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
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
        leaks = case.get("proof", {}).get("private_key", False)
        if badge != (PRIVATE_KEY if leaks else BADGES[case["status"]]):
            wrong.append(f"{case['name']}: badge {badge!r}")
        wrong += dpop_shown(page, case)
        if warnings != case["warnings"]:
            wrong.append(f"{case['name']}: warnings {warnings!r}")
        if case["error"] is not None and case["error"] not in error:
            wrong.append(f"{case['name']}: error {error!r}")
        checked += 1
    assert wrong == []
    assert checked > 50


def dpop_shown(page: Page, case: dict[str, Any]) -> list[str]:
    """What is wrong with the DPoP card for `case`: a bound token's cnf.jkt, a proof's request
    and key (the thumbprint once WebCrypto has hashed it), nothing for other tokens."""
    card = page.locator("#dpop-card")
    if case.get("bound_to"):
        expect(card).to_be_visible()
        shown = page.text_content("#dpop-bound")
        return [] if shown == case["bound_to"] else [f"{case['name']}: cnf.jkt {shown!r}"]
    if case.get("kind") != "dpop_proof":
        return [] if card.is_hidden() else [f"{case['name']}: a DPoP card for a token"]
    expect(card).to_be_visible()
    facts = case.get("proof", {})
    wrong = []
    for name in ("htm", "htu"):
        if name in facts:
            value = facts[name]
            expected = "(missing)" if value is None else str(value)
            if page.text_content(f"#dpop-{name}") != expected:
                wrong.append(f"{case['name']}: {name} {page.text_content(f'#dpop-{name}')!r}")
    if "jkt" in facts:
        thumbprint = f"{facts['jkt']} (RFC 7638)" if facts["jkt"] else "(none)"
        expect(page.locator("#dpop-jkt")).to_have_text(thumbprint)
        if facts["key"] and page.text_content("#dpop-key") != facts["key"]:
            wrong.append(f"{case['name']}: key {page.text_content('#dpop-key')!r}")
    return wrong


def test_a_proof_goes_stale_on_the_page_as_time_passes(page: Page) -> None:
    fresh = next(c for c in TABLE["cases"] if c["name"] == "a fresh proof for a resource request")
    page.fill("#token", fresh["token"])
    expect(page.locator("#badge")).to_have_text("fresh proof")
    expect(page.locator("#dpop-age")).to_have_text("issued 12 s ago: within the 60 s window")
    page.clock.set_fixed_time(TABLE["now"] + 49)  # 61 s after its iat
    expect(page.locator("#badge")).to_have_text("stale proof")  # the page's once-a-second tick
    expect(page.locator("#dpop-age")).to_have_text("issued 1 m 1 s ago: outside the 60 s window")
    expect(page.locator("#relative")).to_have_text("issued 1 m 1 s ago; outside the 60 s window")


def test_an_empty_box_shows_no_verdict(page: Page) -> None:
    page.fill("#token", " \t")
    assert page.text_content("#badge") == "—"
    assert page.text_content("#decode-error") == ""
