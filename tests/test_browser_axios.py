"""`auth.axios(instance)` in real Chromium against a real server, beside `auth.fetch`: axios
itself from the npm registry (tests/npm.py), served to the page by the test's app. The page's
clock and the server's move apart or together as each test needs (tests/browser.py)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.responses import HTMLResponse, Response
from playwright.sync_api import Browser, Page, Request

from tessera import ManualClock, Tessera, create_app
from tests.browser import LEEWAY, TTL, Live, live_in
from tests.capture import capture_server
from tests.conftest import PASSWORD, make_settings
from tests.live import add_user
from tests.npm import npm_package

pytestmark = pytest.mark.slow

AXIOS = "axios@1.21.1"
OLD_AXIOS = "axios@1.7.9"  # ignores `allowAbsoluteUrls` (added in 1.8.0)
LONG_TTL = 600  # seconds: a token that outlives a proof's 60 s window, for the nonce test

APP_PAGE = """<!doctype html><meta charset="utf-8"><title>an axios app</title>
<script type="module">
  import axios from "/vendor/axios.js";
  import { createAuth } from "/auth/tessera.js";
  window.axios = axios;
  window.events = [];
  const listed = new URLSearchParams(location.search).get("api");
  const apiOrigins = listed ? [listed] : [];
  window.auth = createAuth({ baseUrl: "/auth", apiOrigins, proactive: false });
  window.api = auth.axios(axios.create({ timeout: 10_000 }));
  for (const name of ["logout", "refreshed", "error"]) auth.on(name, () => events.push(name));
  // An axios call's outcome as plain data: its status, or the error's.
  window.call = (config) =>
    api.request(config).then((r) => ({ status: r.status, data: r.data }),
      (e) => ({ status: e.response?.status ?? null, error: e.name }));
</script>"""


def axios_module(spec: str = AXIOS) -> bytes:
    installed = npm_package(spec)
    return (installed / "node_modules" / "axios" / "dist" / "esm" / "axios.js").read_bytes()


def live_app(tmp_path: Path, browser: Browser, ttl: int) -> Iterator[Live]:
    data_dir = tmp_path / "server"
    add_user(data_dir, "alice")
    clock = ManualClock()
    service = Tessera(make_settings(data_dir, access_ttl=ttl, leeway=LEEWAY), clock=clock)
    app = create_app(service)
    module, old = axios_module(), axios_module(OLD_AXIOS)
    app.get("/app", include_in_schema=False)(lambda: HTMLResponse(APP_PAGE))
    app.get("/vendor/axios.js", include_in_schema=False)(
        lambda: Response(module, media_type="text/javascript")
    )
    app.get("/vendor/old/axios.js", include_in_schema=False)(
        lambda: Response(old, media_type="text/javascript")
    )
    yield from live_in(browser, service, clock, app)


@pytest.fixture
def live(tmp_path: Path, browser: Browser) -> Iterator[Live]:
    yield from live_app(tmp_path, browser, TTL)


@pytest.fixture
def live_long(tmp_path: Path, browser: Browser) -> Iterator[Live]:
    yield from live_app(tmp_path, browser, LONG_TTL)


def open_app(live: Live, query: str = "") -> Page:
    page = live.open("/app" + query)
    page.wait_for_function("window.api !== undefined")
    page.evaluate("([user, password]) => auth.login(user, password)", ["alice", PASSWORD])
    return page


def b64url_json(text: str) -> dict[str, Any]:
    return dict(json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))))


def proof_claims(request: Request) -> dict[str, Any]:
    return b64url_json(request.headers["dpop"].split(".")[1])


def ath(token: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()


def api_requests(page: Page) -> list[Request]:
    """Every request the page sends to the API from now on."""
    seen: list[Request] = []
    page.on("request", lambda r: seen.append(r) if "/api/" in r.url else None)
    return seen


def test_axios_sends_the_token_and_a_proof_of_each_request_as_fetch_does(live: Live) -> None:
    page = open_app(live)
    token = page.evaluate("auth.accessToken")
    jkt = b64url_json(token.split(".")[1])["cnf"]["jkt"]
    seen = api_requests(page)
    answer = page.evaluate("call({ url: '/api/me', params: { page: 2 } })")
    assert answer["status"] == 200 and answer["data"]["sub"]
    assert page.evaluate("async () => (await auth.fetch('/api/me?page=2')).status") == 200
    via_axios, via_fetch = seen
    for request in (via_axios, via_fetch):
        assert request.headers["authorization"] == f"DPoP {token}"
        claims = proof_claims(request)
        assert (claims["htm"], claims["htu"]) == ("GET", live.url + "/api/me")
        assert claims["ath"] == ath(token)
        header = b64url_json(request.headers["dpop"].split(".")[0])
        assert header["typ"] == "dpop+jwt" and header["jwk"]["kty"] == "EC"
    assert proof_claims(via_axios)["jti"] != proof_claims(via_fetch)["jti"]
    assert jkt  # the session is bound, so a Bearer header would have been refused


def test_one_refresh_for_axios_and_fetch_calls_with_a_stale_token(live: Live) -> None:
    page = open_app(live)
    before = live.refreshes()
    live.advance(TTL + LEEWAY + 1)  # the page's timer is off (proactive: false): stale token
    statuses = page.evaluate(
        """async () => {
          const calls = [];
          for (let i = 0; i < 4; i++) {
            calls.push(call({ url: '/api/me' }).then((r) => r.status));
            calls.push(auth.fetch('/api/me').then((r) => r.status));
          }
          return Promise.all(calls);
        }"""
    )
    assert statuses == [200] * 8
    assert live.refreshes() == before + 1  # single-flight across both paths


def test_a_401_is_refreshed_once_and_sent_once_more(live: Live) -> None:
    """The server's clock runs past the token's expiry, the page's does not: the page believes
    its token is fresh, the API answers 401 invalid_token, one refresh, one retry."""
    page = open_app(live)
    old = page.evaluate("auth.accessToken")
    seen = api_requests(page)
    before = live.refreshes()
    live.clock.advance(TTL + LEEWAY + 1)
    answer = page.evaluate("call({ method: 'get', url: '/api/me' })")
    assert answer["status"] == 200
    assert live.refreshes() == before + 1
    new = page.evaluate("auth.accessToken")
    assert new != old
    assert [r.headers["authorization"] for r in seen] == [f"DPoP {old}", f"DPoP {new}"]
    assert proof_claims(seen[1])["ath"] == ath(new)
    assert page.evaluate("events") == ["refreshed"]


def test_a_refresh_401_ends_the_session_and_the_call_fails_with_401(live: Live) -> None:
    page = open_app(live)
    sign_out_from_elsewhere(live, page.evaluate("auth.sessionId"))
    seen = api_requests(page)
    answer = page.evaluate("call({ url: '/api/me' })")
    assert answer == {"status": 401, "error": "AxiosError"}
    assert page.evaluate("events") == ["logout"]
    assert page.evaluate("auth.accessToken") is None
    assert len(seen) == 1  # refused, refreshed (401), not sent again
    assert live.refreshes("invalid") == 1


def test_the_token_goes_only_to_the_pages_origin_and_the_listed_ones(live: Live) -> None:
    """As `auth.fetch` (test_browser.py): a third party on another port, reachable as
    localhost and as 127.0.0.1 (two origins), records what it is sent; the app lists the first."""
    with capture_server() as third_party:
        listed, other = third_party.url("localhost"), third_party.url("127.0.0.1")
        page = open_app(live, "?api=" + listed)
        token = page.evaluate("auth.accessToken")
        status = "async (url) => (await call({ url })).status"
        assert page.evaluate(status, listed + "/listed") == 200
        assert page.evaluate(status, other + "/other") == 200
        based = "(baseURL) => auth.axios(axios.create({ baseURL })).get('/based')"
        elsewhere = f"async (base) => (await ({based})(base)).status"
        assert page.evaluate(elsewhere, other) == 200  # a relative path under another baseURL
        # A listed API redirects elsewhere, and that answers 401: not a verdict on our token.
        assert page.evaluate(status, f"{listed}/redirect?to={other}/401/moved") == 401
        assert live.refreshes() == 0
        live.advance(TTL + 5)  # expired: a request that may carry the token refreshes first
        assert page.evaluate(status, other + "/401/other") == 401  # no refresh, no retry
        assert live.refreshes() == 0
        assert page.evaluate(status, "/api/me") == 200
        assert live.refreshes() == 1
    gets = [(s.path, s.authorization, "dpop" in s.headers) for s in third_party.requests("GET")]
    assert gets == [
        ("/listed", f"DPoP {token}", True),
        ("/other", None, False),
        ("/based", None, False),
        (f"/redirect?to={other}/401/moved", f"DPoP {token}", True),
        ("/401/moved", None, True),  # Chromium drops the token on the way (not the proof)
        ("/401/other", None, False),
    ]


def test_the_token_goes_only_where_the_request_finally_goes(live: Live) -> None:
    """Two ways a request could be sent elsewhere than the URL it was judged on (security review,
    issue 19): an absolute URL with `allowAbsoluteUrls: false` on an axios that ignores that
    option (1.7.9 here), and the app's own interceptor, registered before `auth.axios`, which
    axios runs after Tessera's and which moves the request. Neither carries the token; what
    stays on a trusted URL does, with a proof of the URL it is finally sent to."""
    with capture_server() as third_party:
        listed, other = third_party.url("localhost"), third_party.url("127.0.0.1")
        page = open_app(live, "?api=" + listed)
        token = page.evaluate("auth.accessToken")
        seen = api_requests(page)
        statuses = page.evaluate(
            """async ([other, listed]) => {
              const old = (await import('/vendor/old/axios.js')).default;
              const api = location.origin + '/api';
              const based = auth.axios(old.create({ baseURL: api, allowAbsoluteUrls: false }));
              const instance = axios.create();
              instance.interceptors.request.use((config) => {  // the app's, registered first
                if (config.url.startsWith('/cdn/')) config.baseURL = other;  // a third-party CDN
                if (config.url.startsWith('/v1/')) config.baseURL = listed;
                if (config.url === '/api/old') config.url = '/api/me';
                return config;
              });
              const routed = auth.axios(instance);
              const calls = [based.get(other + '/collect'), based.get('/me'),
                routed.get('/cdn/logo.png'), routed.get('/v1/orders'), routed.get('/api/me'),
                routed.get('/api/old')];
              const settled = await Promise.allSettled(calls);
              return settled.map((c) => c.value?.status ?? c.reason?.response?.status);
            }""",
            [other, listed],
        )
        assert statuses == [200, 200, 200, 200, 200, 401]
    gets = [(s.path, s.authorization, "dpop" in s.headers) for s in third_party.requests("GET")]
    assert sorted(gets) == [("/cdn/logo.png", None, False), ("/collect", None, False),
                            ("/v1/orders", None, False)]  # fmt: skip
    # moved on the page's own origin after the proof was made: without the token, so a 401
    assert [r.url.removeprefix(live.url) for r in seen] == ["/api/me", "/api/me", "/api/me"]
    authorized = [r for r in seen if r.headers.get("authorization") == f"DPoP {token}"]
    assert len(authorized) == 2
    for request in authorized:
        claims = proof_claims(request)
        assert (claims["htm"], claims["htu"]) == ("GET", live.url + "/api/me")


def test_a_proof_from_a_clock_that_is_off_is_sent_again_with_the_servers_nonce(
    live_long: Live,
) -> None:
    """The page's clock is two minutes behind the server's: its proofs' `iat` is out of the
    server's window, the API asks for a nonce, and axios — like fetch — sends the request once
    more with it (and keeps it for the next request)."""
    live = live_long
    page = open_app(live)
    live.clock.advance(120)
    seen = api_requests(page)
    assert page.evaluate("call({ url: '/api/me' })")["status"] == 200
    assert "nonce" not in proof_claims(seen[0])
    nonce = proof_claims(seen[1])["nonce"]
    assert page.evaluate("call({ url: '/api/me' })")["status"] == 200
    assert proof_claims(seen[2])["nonce"] == nonce  # remembered: no second 401
    assert page.evaluate("async () => (await auth.fetch('/api/me')).status") == 200
    assert len(seen) == 4
    assert live.refreshes() == 0


def sign_out_from_elsewhere(live: Live, session_id: str) -> None:
    """Another device of the same user signs this session out (`DELETE /auth/sessions/{id}`)."""
    with httpx.Client(base_url=live.url) as other:
        login = other.post("/auth/login", json={"username": "alice", "password": PASSWORD})
        token = login.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert other.delete(f"/auth/sessions/{session_id}", headers=headers).status_code == 204
