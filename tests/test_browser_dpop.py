"""tessera.js with DPoP in real Chromium against a real server (see tests/browser.py for how):
the key is in IndexedDB and cannot be exported, a copied refresh cookie is useless elsewhere,
a lost refresh response is recovered long after the grace window, and tabs still rotate once
per expiry."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.responses import HTMLResponse
from playwright.sync_api import Browser, Page, Request, Route

from tessera import ManualClock, Tessera, create_app
from tessera.dpop.keys import thumbprint
from tessera.store.records import AuditEvent
from tests.browser import LEEWAY, TTL, Live, live_in
from tests.conftest import PASSWORD, make_settings
from tests.live import add_user, run_async

pytestmark = pytest.mark.slow

GRACE = 2  # seconds: the server's reuse grace window, kept small
LONG_AFTER = 3600  # seconds after the lost response: far past the grace window
COOKIE = "tessera_refresh"

APP_PAGE = """<!doctype html><meta charset="utf-8"><title>an app</title>
<script type="module">
  import { createAuth } from "/auth/tessera.js";
  const proactive = new URLSearchParams(location.search).has("proactive");
  window.events = [];
  window.auth = createAuth({ baseUrl: "/auth", proactive });
  for (const name of ["login", "logout", "refreshed", "error"]) {
    auth.on(name, (detail) => events.push({ name, fromOtherTab: detail?.fromOtherTab ?? null }));
  }
</script>"""

# The stored key as the page's own scripts could reach it: straight from IndexedDB, then
# asked to leave WebCrypto in both private-key formats.
STORED_KEY = """async () => {
  const request = (r) => new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  const db = await request(indexedDB.open("tessera-dpop"));
  const key = await request(db.transaction("keys").objectStore("keys").get("/auth"));
  db.close();
  if (!key) return null;
  const exports = [];
  for (const format of ["jwk", "pkcs8"]) {
    const exported = crypto.subtle.exportKey(format, key.privateKey);
    exports.push(await exported.then(() => "exported", (error) => error.name));
  }
  const { type, extractable, algorithm, usages } = key.privateKey;
  return { jkt: key.jkt, jwk: key.jwk, type, extractable, algorithm, usages, exports };
}"""


@pytest.fixture
def live(tmp_path: Path, browser: Browser) -> Iterator[Live]:
    """A server (reuse grace GRACE) with the app page at /app, and a browser on its clock."""
    data_dir = tmp_path / "server"
    add_user(data_dir, "alice")
    clock = ManualClock()
    settings = make_settings(data_dir, access_ttl=TTL, leeway=LEEWAY, reuse_grace=GRACE)
    service = Tessera(settings, clock=clock)
    app = create_app(service)
    app.get("/app", include_in_schema=False)(lambda: HTMLResponse(APP_PAGE))
    yield from live_in(browser, service, clock, app)


def open_app(live: Live, query: str = "") -> Page:
    page = live.open("/app" + query)
    page.wait_for_function("window.auth !== undefined")
    return page


def sign_in(page: Page) -> None:
    page.evaluate("([user, password]) => auth.login(user, password)", ["alice", PASSWORD])


def segment(jws: str, index: int) -> dict[str, Any]:
    """One JSON segment of a JWS (0: header, 1: claims)."""
    text = jws.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))))


def claims(token: str) -> dict[str, Any]:
    return segment(token, 1)


def bound_key(page: Page) -> str:
    """The key the page's access token is bound to (`cnf.jkt`)."""
    return str(claims(page.evaluate("auth.accessToken"))["cnf"]["jkt"])


def api_status(page: Page) -> int:
    return int(page.evaluate("async () => (await auth.fetch('/api/me')).status"))


def refresh_cookie(live: Live) -> str:
    return next(c["value"] for c in live.context.cookies() if c["name"] == COOKIE)


def audit(live: Live, session_id: str) -> list[AuditEvent]:
    """The session's audit trail, read through a second service on the same database."""

    async def read() -> list[AuditEvent]:
        reader = Tessera(live.service.settings, clock=live.clock)
        try:
            await reader.start()
            return await reader.store.list_audit(session_id=session_id)
        finally:
            await reader.close()

    return run_async(read())


def test_the_key_lives_in_indexeddb_cannot_be_exported_and_serves_every_tab(live: Live) -> None:
    first = open_app(live)
    sign_in(first)
    key = first.evaluate(STORED_KEY)
    assert key["type"] == "private" and key["extractable"] is False
    assert key["algorithm"] == {"name": "ECDSA", "namedCurve": "P-256"}
    assert key["usages"] == ["sign"]
    assert key["exports"] == ["InvalidAccessError", "InvalidAccessError"]
    assert sorted(key["jwk"]) == ["crv", "kty", "x", "y"]  # only the public half is readable
    assert key["jkt"] == thumbprint(key["jwk"]) == bound_key(first)

    # Another tab (a page load): the same key, from IndexedDB, proves its refresh.
    second = open_app(live)
    assert second.evaluate("auth.restore()") is True
    assert second.evaluate(STORED_KEY)["jkt"] == key["jkt"] == bound_key(second)
    assert api_status(second) == 200

    # A new login may make a new key; the other tab follows it.
    old = second.evaluate("auth.accessToken")
    sign_in(first)
    newer = first.evaluate(STORED_KEY)["jkt"]
    assert newer != key["jkt"]
    second.wait_for_function("(old) => auth.accessToken !== old", arg=old)
    assert bound_key(second) == newer
    live.advance(TTL + 5)
    assert api_status(second) == 200  # refreshed first, with the new key

    first.evaluate("auth.logout()")
    assert first.evaluate(STORED_KEY) is None  # the session is over, its key gone


def test_a_refresh_cookie_copied_into_another_browser_is_refused(
    live: Live,
    browser: Browser,
) -> None:
    owner = open_app(live)
    sign_in(owner)
    session_id = owner.evaluate("auth.sessionId")
    stolen = refresh_cookie(live)
    before = live.refreshes()

    elsewhere = browser.new_context()
    try:
        elsewhere.clock.install(time=live.clock.now())
        elsewhere.add_cookies([{"name": COOKIE, "value": stolen, "url": live.url + "/auth"}])
        thief = elsewhere.new_page()
        thief.goto(live.url + "/app")
        thief.wait_for_function("window.auth !== undefined")
        assert thief.evaluate("auth.restore()") is False  # no key here: no session
        # By hand, without a proof and with a key of its own made by the very same code.
        attempts = thief.evaluate(
            """async (url) => {
                const dpop = await import("/auth/tessera/dpop.js");
                const key = await dpop.generateKey(crypto.subtle);
                const request = { method: "POST", url, iat: Date.now() / 1000 };
                const answers = [];
                for (const proof of [null, await dpop.makeProof(crypto.subtle, key, request)]) {
                    const headers = { "X-Tessera-CSRF": "1", ...(proof ? { DPoP: proof } : {}) };
                    const response = await fetch(url, { method: "POST", headers });
                    answers.push([response.status, (await response.json()).error]);
                }
                return answers;
            }""",
            live.url + "/auth/refresh",
        )
        assert attempts == [[401, "invalid_dpop_proof"]] * 2
    finally:
        elsewhere.close()

    # Nothing changed for the owner: no rotation, no revocation; its next refresh goes through.
    assert live.refreshes() == before
    live.advance(TTL + 5)
    assert api_status(owner) == 200
    assert live.refreshes() == before + 1
    assert owner.evaluate("auth.sessionId") == session_id
    assert [e["name"] for e in owner.evaluate("events")] == ["login", "refreshed"]
    refusals = [e for e in audit(live, session_id) if e.kind == "dpop_refused"]
    # restore() and the attempt by hand without a proof are one kind from one address: one
    # audit row a minute for them (a thief cannot flood the trail); the foreign key is another.
    assert ["another key" in (e.detail or "") for e in refusals] == [False, True]


def test_a_lost_refresh_response_is_recovered_long_after_the_grace_window(live: Live) -> None:
    """The refresh reaches the server, which rotates; its response never reaches the browser
    (the route forwards the request itself, then fails it), so the cookie the browser keeps
    is the predecessor. An hour later, far past the grace window, the next refresh — proven
    by the key — gets the current token back, and the user stays signed in."""
    page = open_app(live)
    sign_in(page)
    predecessor = refresh_cookie(live)
    lost: list[httpx.Response] = []

    def lose(route: Route, request: Request) -> None:
        headers = {k: v for k, v in request.all_headers().items() if not k.startswith(":")}
        lost.append(httpx.request(request.method, request.url, headers=headers))
        route.abort("connectionreset")

    live.context.route("**/auth/refresh", lose)
    live.advance(TTL + 5)  # expired: the next request refreshes first
    failed = page.evaluate("auth.fetch('/api/me').then(() => 'sent', (e) => e.name)")
    assert failed == "TransientError"  # the refresh failed for the browser ...
    assert [r.status_code for r in lost] == [200]  # ... but the server did rotate
    current = lost[0].cookies[COOKIE]
    assert refresh_cookie(live) == predecessor != current
    rotated = live.refreshes()
    live.context.unroute("**/auth/refresh")

    live.advance(LONG_AFTER)
    assert api_status(page) == 200
    assert refresh_cookie(live) == current  # the current token, handed back
    assert live.refreshes("grace") == 1 and live.refreshes() == rotated
    assert live.refreshes("reuse") == 0
    live.advance(TTL + 5)
    assert api_status(page) == 200  # and it rotates on as before
    assert live.refreshes() == rotated + 1
    names = [e["name"] for e in page.evaluate("events")]
    assert "logout" not in names and names.count("error") == 1


def test_two_tabs_rotate_once_per_expiry_with_proofs(live: Live) -> None:
    proofs: list[str] = []
    live.context.on(
        "request",
        lambda r: proofs.append(r.headers.get("dpop", "")) if r.url.endswith("/refresh") else None,
    )
    first = open_app(live, "?proactive")
    sign_in(first)
    second = open_app(live, "?proactive")
    assert second.evaluate("auth.restore()") is True  # a rotation, handed over to the first
    first.wait_for_function("events.some((e) => e.fromOtherTab)")
    before = live.refreshes()
    tokens = {id(page): page.evaluate("auth.accessToken") for page in (first, second)}
    live.advance(TTL - 5)  # into the lead window: the visible tab refreshes ahead of expiry
    for page in (first, second):
        page.wait_for_function("(old) => auth.accessToken !== old", arg=tokens[id(page)])
    assert first.evaluate("auth.accessToken") == second.evaluate("auth.accessToken")
    assert api_status(first) == api_status(second) == 200
    assert live.refreshes() == before + 1
    assert live.refreshes("grace") == 0
    # Every refresh, in either tab, was proven by the one stored key.
    assert len(proofs) == 2 and all(proofs)
    keys = {thumbprint(segment(proof, 0)["jwk"]) for proof in proofs}
    assert keys == {first.evaluate(STORED_KEY)["jkt"]}
