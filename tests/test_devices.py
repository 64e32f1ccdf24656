""" "Your devices" over HTTP: `DELETE /auth/sessions?except=current` signs out the caller's other
sessions and keeps its own, and the listing names each session's device."""

from __future__ import annotations

import httpx
import pytest

from tessera import Tessera
from tessera.sessions.devices import describe_device
from tests.conftest import PASSWORD
from tests.helpers import assert_error, bearer, login, refresh

pytestmark = pytest.mark.anyio

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("agent", "device"),
    [
        (FIREFOX_LINUX, "Firefox on Linux"),
        (CHROME_WINDOWS, "Chrome on Windows"),
        (CHROME_WINDOWS + " Edg/131.0.0.0", "Edge on Windows"),
        (CHROME_WINDOWS + " OPR/115.0.0.0", "Opera on Windows"),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/18.1 Safari/605.1.15",
            "Safari on macOS",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
            "Chrome on iOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
            "Samsung Internet on Android",
        ),
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
            "Chrome on ChromeOS",
        ),
        ("python-httpx/0.28.1", "Python httpx"),
        ("python-requests/2.32.3", "Python requests"),
        ("curl/8.5.0", "curl"),
        ("Wget/1.21.4", "Wget"),
        ("Mozilla/5.0 (X11; Linux x86_64)", "Linux"),
        ("thief/1.0", None),
        ("", None),
        (None, None),
    ],
)
def test_device_from_user_agent(agent: str | None, device: str | None) -> None:
    assert describe_device(agent) == device


async def test_the_listing_names_each_device(client: httpx.AsyncClient) -> None:
    laptop = (
        await client.post(
            "/auth/login",
            json={"username": "alice", "password": PASSWORD, "transport": "body"},
            headers={"User-Agent": FIREFOX_LINUX},
        )
    ).json()
    script = await login(client)  # httpx's own agent
    listing = await client.get("/auth/sessions", headers=bearer(laptop["access_token"]))
    devices = {s["id"]: s["device"] for s in listing.json()["sessions"]}
    assert devices == {
        laptop["session_id"]: "Firefox on Linux",
        script["session_id"]: "Python httpx",
    }


async def test_sign_out_other_devices_keeps_the_current_one(
    client: httpx.AsyncClient, auth: Tessera
) -> None:
    laptop = await login(client)
    phone = await login(client)
    tablet = await login(client)
    bystander = await login(client, "root")
    response = await client.delete(
        "/auth/sessions", params={"except": "current"}, headers=bearer(phone["access_token"])
    )
    assert response.status_code == 204
    # The others: refresh tokens refused, access tokens refused at once (before their exp).
    for other in (laptop, tablet):
        assert_error(await refresh(client, other["refresh_token"]), 401, "invalid_grant")
        me = await client.get("/api/me", headers=bearer(other["access_token"]))
        assert_error(me, 401, "invalid_token")
    # The caller's own session and someone else's go on.
    assert (await client.get("/api/me", headers=bearer(phone["access_token"]))).status_code == 200
    assert (await refresh(client, phone["refresh_token"])).status_code == 200
    assert (await refresh(client, bystander["refresh_token"])).status_code == 200
    events = [e for e in await auth.store.list_audit() if e.kind == "signed_out_elsewhere"]
    assert [(e.session_id, e.detail) for e in events] == [
        (None, f"all but session {phone['session_id']}")
    ]
    value = auth.metrics.registry.get_sample_value(
        "tessera_revocations_total", {"reason": "signed_out_elsewhere"}
    )
    assert value == 2


@pytest.mark.parametrize("value", ["", "all", "Current", "other"])
async def test_any_other_except_is_a_bad_request(client: httpx.AsyncClient, value: str) -> None:
    laptop = await login(client)
    phone = await login(client)
    response = await client.delete(
        "/auth/sessions", params={"except": value}, headers=bearer(phone["access_token"])
    )
    assert_error(response, 400, "invalid_request")
    assert (await refresh(client, laptop["refresh_token"])).status_code == 200


async def test_except_current_needs_a_live_token(client: httpx.AsyncClient) -> None:
    response = await client.delete("/auth/sessions", params={"except": "current"})
    assert_error(response, 401, "invalid_token")
