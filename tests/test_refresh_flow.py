"""The refresh-token state machine over HTTP: rotation, grace, reuse, expiry, logout, revoke."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tessera import ManualClock, Tessera, create_app
from tests.conftest import PASSWORD, make_settings
from tests.helpers import assert_error, bearer, login, refresh

pytestmark = pytest.mark.anyio


async def test_seed_six_steps_through_the_app(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    tokens = await login(client)  # 1. log in
    me = await client.get("/api/me", headers=bearer(tokens["access_token"]))  # 2. API call
    assert me.status_code == 200
    assert me.json()["sid"] == tokens["session_id"]
    clock.advance(tokens["expires_in"] + 11)  # 3. the access token expires (leeway is 10 s)
    expired = await client.get("/api/me", headers=bearer(tokens["access_token"]))
    assert_error(expired, 401, "invalid_token")
    assert 'error="invalid_token"' in expired.headers["www-authenticate"]
    renewed = await refresh(client, tokens["refresh_token"])  # 4. refresh
    assert renewed.status_code == 200
    retry = await client.get("/api/me", headers=bearer(renewed.json()["access_token"]))  # 5. retry
    assert retry.status_code == 200  # 6. it works


async def test_rotation_issues_a_new_token_and_retires_the_old(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    first = await login(client)
    second = (await refresh(client, first["refresh_token"])).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["session_id"] == first["session_id"]
    assert second["access_token"] != first["access_token"]
    clock.advance(1)
    third = await refresh(client, second["refresh_token"])
    assert third.status_code == 200
    assert third.json()["refresh_token"] not in (first["refresh_token"], second["refresh_token"])


async def test_token_response_shape(client: httpx.AsyncClient, clock: ManualClock) -> None:
    body = await login(client)
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "expires_at",
        "session_id",
        "refresh_token",
        "refresh_expires_at",
    }
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    assert body["expires_at"] == int(clock.now()) + 600
    assert body["refresh_expires_at"] == int(clock.now()) + 14 * 86400
    assert body["refresh_token"].startswith("tsr1_")


async def test_grace_window_returns_the_same_token_and_revokes_nothing(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    first = await login(client)
    rotated = (await refresh(client, first["refresh_token"])).json()
    clock.advance(9)
    replay = await refresh(client, first["refresh_token"])
    assert replay.status_code == 200
    assert replay.json()["refresh_token"] == rotated["refresh_token"]
    assert replay.json()["session_id"] == first["session_id"]
    # Nothing was revoked: the current token still rotates.
    onward = await refresh(client, rotated["refresh_token"])
    assert onward.status_code == 200


async def test_reuse_after_grace_revokes_the_whole_session(
    client: httpx.AsyncClient, clock: ManualClock, auth: Tessera
) -> None:
    first = await login(client)
    rotated = (await refresh(client, first["refresh_token"])).json()
    clock.advance(11)
    reuse = await refresh(client, first["refresh_token"])
    assert_error(reuse, 401, "invalid_grant")
    # The newest token dies too, and so does the session's access token for session routes.
    assert_error(await refresh(client, rotated["refresh_token"]), 401, "invalid_grant")
    listing = await client.get("/auth/sessions", headers=bearer(rotated["access_token"]))
    assert_error(listing, 401, "invalid_token")
    events = await auth.store.list_audit(first["session_id"])
    reuse_events = [e for e in events if e.kind == "refresh_token_reuse"]
    assert len(reuse_events) == 1
    assert reuse_events[0].ip == "203.0.113.7"
    assert reuse_events[0].at == clock.now()
    session = await auth.store.get_session(first["session_id"])
    assert session is not None and session.revoke_reason == "reuse"


async def test_older_generation_inside_the_grace_window_is_still_reuse(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    first = await login(client)
    second = (await refresh(client, first["refresh_token"])).json()
    third = (await refresh(client, second["refresh_token"])).json()
    # first is two generations old: no grace, even though no time has passed.
    assert_error(await refresh(client, first["refresh_token"]), 401, "invalid_grant")
    assert_error(await refresh(client, third["refresh_token"]), 401, "invalid_grant")


async def test_unknown_token_revokes_nothing(client: httpx.AsyncClient) -> None:
    tokens = await login(client)
    forged = "tsr1_" + "A" * 43
    assert_error(await refresh(client, forged), 401, "invalid_grant")
    assert (await refresh(client, tokens["refresh_token"])).status_code == 200


async def test_concurrent_refreshes_rotate_once_and_agree(client: httpx.AsyncClient) -> None:
    tokens = await login(client)
    responses = await asyncio.gather(*(refresh(client, tokens["refresh_token"]) for _ in range(12)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert len({r.json()["refresh_token"] for r in responses}) == 1
    winner = responses[0].json()["refresh_token"]
    assert (await refresh(client, winner)).status_code == 200


async def test_idle_timeout(client: httpx.AsyncClient, clock: ManualClock) -> None:
    tokens = await login(client)
    clock.advance(14 * 86400 - 5)
    kept = await refresh(client, tokens["refresh_token"])
    assert kept.status_code == 200  # used in time: the idle clock restarts
    clock.advance(14 * 86400 + 1)
    assert_error(await refresh(client, kept.json()["refresh_token"]), 401, "invalid_grant")


async def test_absolute_lifetime_is_never_extended(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    tokens = await login(client)
    token = tokens["refresh_token"]
    for _ in range(3):  # keep the session busy for 30 days
        clock.advance(10 * 86400 - 1)
        response = await refresh(client, token)
        assert response.status_code == 200
        token = response.json()["refresh_token"]
        assert response.json()["refresh_expires_at"] <= tokens["refresh_expires_at"] + 16 * 86400
    clock.advance(10)
    assert_error(await refresh(client, token), 401, "invalid_grant")


async def test_refresh_expiry_never_exceeds_the_absolute_end(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    tokens = await login(client)
    end = int(clock.now()) + 30 * 86400
    clock.advance(13 * 86400)
    response = await refresh(client, tokens["refresh_token"])
    assert response.json()["refresh_expires_at"] == int(clock.now()) + 14 * 86400
    clock.advance(13 * 86400)
    response = await refresh(client, response.json()["refresh_token"])
    assert response.json()["refresh_expires_at"] == end


async def test_logout_with_body_token(client: httpx.AsyncClient) -> None:
    tokens = await login(client)
    response = await client.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 204
    assert_error(await refresh(client, tokens["refresh_token"]), 401, "invalid_grant")
    again = await client.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert again.status_code == 204  # idempotent


async def test_logout_with_bearer_token(client: httpx.AsyncClient) -> None:
    tokens = await login(client)
    response = await client.post("/auth/logout", headers=bearer(tokens["access_token"]))
    assert response.status_code == 204
    assert_error(await refresh(client, tokens["refresh_token"]), 401, "invalid_grant")


async def test_logout_with_a_bad_bearer_token_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/logout", headers=bearer("not.a.jwt"))
    assert_error(response, 401, "invalid_token")


async def test_list_and_revoke_one_session(client: httpx.AsyncClient) -> None:
    laptop = await login(client)
    phone = await login(client)
    other_user = await login(client, "root")
    listing = await client.get("/auth/sessions", headers=bearer(laptop["access_token"]))
    assert listing.status_code == 200
    sessions = listing.json()["sessions"]
    assert [s["id"] for s in sessions] == [phone["session_id"], laptop["session_id"]] or {
        s["id"] for s in sessions
    } == {phone["session_id"], laptop["session_id"]}
    current = [s for s in sessions if s["current"]]
    assert [s["id"] for s in current] == [laptop["session_id"]]
    assert sessions[0]["ip"] == "203.0.113.7"

    # Someone else's session looks exactly like an unknown one.
    foreign = await client.delete(
        f"/auth/sessions/{other_user['session_id']}", headers=bearer(laptop["access_token"])
    )
    assert_error(foreign, 404, "not_found")
    unknown = await client.delete("/auth/sessions/nope", headers=bearer(laptop["access_token"]))
    assert_error(unknown, 404, "not_found")
    assert (await refresh(client, other_user["refresh_token"])).status_code == 200

    gone = await client.delete(
        f"/auth/sessions/{phone['session_id']}", headers=bearer(laptop["access_token"])
    )
    assert gone.status_code == 204
    assert_error(await refresh(client, phone["refresh_token"]), 401, "invalid_grant")
    assert (await refresh(client, laptop["refresh_token"])).status_code == 200


async def test_revoke_all_sessions(client: httpx.AsyncClient) -> None:
    laptop = await login(client)
    phone = await login(client)
    bystander = await login(client, "root")
    response = await client.delete("/auth/sessions", headers=bearer(phone["access_token"]))
    assert response.status_code == 204
    for tokens in (laptop, phone):
        assert_error(await refresh(client, tokens["refresh_token"]), 401, "invalid_grant")
    assert (await refresh(client, bystander["refresh_token"])).status_code == 200


async def test_audit_trail(client: httpx.AsyncClient, auth: Tessera, clock: ManualClock) -> None:
    tokens = await login(client)
    rotated = (await refresh(client, tokens["refresh_token"])).json()
    await client.post("/auth/login", json={"username": "alice", "password": "wrong"})
    await client.post("/auth/login", json={"username": "nobody", "password": "wrong"})
    clock.advance(11)
    await refresh(client, tokens["refresh_token"])  # reuse
    await auth.keys.rotate()
    events = await auth.store.list_audit()
    kinds = [e.kind for e in events]
    assert kinds == [
        "login",
        "refresh",
        "login_failed",
        "login_failed",
        "refresh_token_reuse",
        "key_rotated",
    ]
    failed = [e for e in events if e.kind == "login_failed"]
    alice = await auth.users.get("alice")
    assert alice is not None
    assert [f.subject for f in failed] == [alice.id, None]
    assert all(f.ip == "203.0.113.7" for f in failed)
    [reuse] = [e for e in events if e.kind == "refresh_token_reuse"]
    assert "last used from 203.0.113.7" in (reuse.detail or "")
    assert rotated["session_id"] == reuse.session_id
    assert any(e.kind == "key_rotated" for e in events)


async def test_no_access_token_outlives_its_session(tmp_path: Path, clock: ManualClock) -> None:
    """`exp` is capped at the session's absolute end: a token minted near the end of a session
    dies with it, not an access TTL later."""
    settings = make_settings(tmp_path / "d", access_ttl=600, session_max_age=1000)
    service = Tessera(settings, clock=clock)
    await service.start()
    await service.users.add("alice", PASSWORD)
    transport = httpx.ASGITransport(app=create_app(service), client=("203.0.113.7", 4242))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
            tokens = await login(client)
            session_end = clock.now() + 1000
            assert tokens["expires_in"] == 600
            clock.advance(900)
            late = (await refresh(client, tokens["refresh_token"])).json()
            assert late["expires_at"] <= session_end
            assert late["expires_in"] <= 100
            claims = await service.verify_access_token(late["access_token"])
            assert claims.exp <= session_end
    finally:
        await service.close()
