"""Instant revocation: a revoked session's still-unexpired access tokens are refused at once by
the server that revoked it, by every other replica, and by verifiers following the feed —
with no I/O per verification."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tessera import ManualClock, Tessera
from tessera.revocations import RevocationFeed, RevokedSessions
from tessera.sessions.service import MINT_MARGIN
from tessera.settings import MAX_LEEWAY
from tessera.tokens import InvalidToken
from tessera.verify import Verifier
from tests.conftest import PASSWORD, START, make_settings
from tests.helpers import assert_error, bearer, login, refresh, subprocess_env, until, wait_until
from tests.live import COMMAND, STOP_TIMEOUT, add_user, in_process_server, run_async
from tests.services import SECRET, pg_url  # noqa: F401 - fixture

ISSUER, AUDIENCE = "https://auth.test", "tessera-tests"
DEADLINE = 5.0  # seconds a revocation may take to arrive before the test calls it lost


# the pieces ----------------------------------------------------------------------------------


def test_revoked_sessions_are_forgotten_once_their_tokens_have_expired() -> None:
    clock = ManualClock(START)
    revoked = RevokedSessions(clock)
    assert revoked.add([("a", START + 600), ("b", START + 60)]) == 2
    assert revoked.add([("a", START + 600)]) == 0  # a repeat is not new
    assert revoked.add([("old", START - MAX_LEEWAY - 1)]) == 0  # its tokens are all dead
    assert "a" in revoked and "b" in revoked and "old" not in revoked
    clock.advance(60 + MAX_LEEWAY + 1)
    assert revoked.prune() == 1
    assert "b" not in revoked and "a" in revoked
    clock.advance(600)
    revoked.add([])  # adding sweeps now and then
    assert len(revoked) == 0


def test_feed_follower_survives_garbage_and_trusts_the_servers_cursor() -> None:
    pages = iter(
        [
            {"revocations": [{"sid": "a", "not_after": int("9" * 400)}], "cursor": 5},
            "[" * 5000 + "]" * 5000,  # nesting deep enough to break a naive parser
            {"revocations": [{"sid": "b", "not_after": START + 600}], "cursor": 9},
            {"revocations": [], "cursor": 2},  # the server's database was restored
        ]
    )
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.params["since"])
        page = next(pages, {"revocations": [], "cursor": 2})
        return httpx.Response(
            200,
            text=page if isinstance(page, str) else None,
            json=page if not isinstance(page, str) else None,
        )

    feed = RevocationFeed(
        "https://auth.test/auth/revocations",
        clock=ManualClock(START),
        wait=0,
        max_retry_delay=0.01,
        transport=httpx.MockTransport(answer),
    )
    try:
        wait_until(lambda: len(sent) >= 5, "five polls", DEADLINE)
        assert "b" in feed.revoked and "a" not in feed.revoked
        assert sent[:5] == ["0", "0", "0", "9", "2"]  # the cursor followed the server back
        assert feed.health()["mode"] == "live"
    finally:
        feed.close()


# on the server that revokes --------------------------------------------------------------


@pytest.mark.anyio
async def test_logout_refuses_that_sessions_access_token_at_once(
    client: httpx.AsyncClient,
) -> None:
    first, second = await login(client), await login(client)
    assert (await client.get("/api/me", headers=bearer(first["access_token"]))).status_code == 200
    out = await client.post("/auth/logout", headers=bearer(first["access_token"]))
    assert out.status_code == 204
    refused = await client.get("/api/me", headers=bearer(first["access_token"]))
    body = assert_error(refused, 401, "invalid_token")
    assert body["error_description"] == "session has been revoked"
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    # The user's other session is untouched.
    assert (await client.get("/api/me", headers=bearer(second["access_token"]))).status_code == 200


@pytest.mark.anyio
async def test_logout_everywhere_refuses_every_sessions_token_at_once(
    client: httpx.AsyncClient,
) -> None:
    sessions = [await login(client) for _ in range(3)]
    other_user = await login(client, "root")
    gone = await client.delete("/auth/sessions", headers=bearer(sessions[0]["access_token"]))
    assert gone.status_code == 204
    for tokens in sessions:
        refused = await client.get("/api/me", headers=bearer(tokens["access_token"]))
        assert_error(refused, 401, "invalid_token")
    me = await client.get("/api/me", headers=bearer(other_user["access_token"]))
    assert me.status_code == 200


@pytest.mark.anyio
async def test_reuse_detection_refuses_the_thiefs_access_token_at_once(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    victim = await login(client)
    # The thief rotates the stolen refresh token and holds a fresh access token.
    thief = (await refresh(client, victim["refresh_token"])).json()
    assert (await client.get("/api/me", headers=bearer(thief["access_token"]))).status_code == 200
    clock.advance(11)  # past the grace window
    reused = await refresh(client, victim["refresh_token"])  # the victim's old token: reuse
    assert_error(reused, 401, "invalid_grant")
    for token in (thief["access_token"], victim["access_token"]):
        assert_error(await client.get("/api/me", headers=bearer(token)), 401, "invalid_token")


@pytest.mark.anyio
async def test_feed_lists_revocations_after_a_cursor(
    client: httpx.AsyncClient, auth: Tessera, clock: ManualClock
) -> None:
    empty = await client.get("/auth/revocations")
    assert empty.status_code == 200
    assert empty.headers["cache-control"] == "no-store"
    assert empty.json() == {"revocations": [], "cursor": 0, "more": False}

    tokens = await login(client)
    await client.post("/auth/logout", headers=bearer(tokens["access_token"]))
    page = (await client.get("/auth/revocations", params={"since": 0})).json()
    ttl = auth.settings.access_ttl
    assert page["revocations"] == [
        {"sid": tokens["session_id"], "not_after": clock.now() + ttl + MINT_MARGIN}
    ]
    assert page["cursor"] >= 1 and page["more"] is False
    later = (await client.get("/auth/revocations", params={"since": page["cursor"]})).json()
    assert later == {"revocations": [], "cursor": page["cursor"], "more": False}

    # Once every token of the session has expired, there is nothing left to refuse.
    clock.advance(ttl + MINT_MARGIN + MAX_LEEWAY + 1)
    stale = (await client.get("/auth/revocations", params={"since": 0})).json()
    assert stale["revocations"] == [] and stale["cursor"] == page["cursor"]


@pytest.mark.anyio
async def test_feed_pages_and_answers_an_unknown_cursor_with_everything(
    client: httpx.AsyncClient, auth: Tessera, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tessera.revocations.watch.PAGE", 2)
    sessions = [await login(client) for _ in range(5)]
    await client.delete("/auth/sessions", headers=bearer(sessions[0]["access_token"]))
    seen, since, more = [], 0, True
    while more:
        page = (await client.get("/auth/revocations", params={"since": since})).json()
        assert len(page["revocations"]) <= 2
        seen += [r["sid"] for r in page["revocations"]]
        since, more = page["cursor"], page["more"]
    assert sorted(seen) == sorted(s["session_id"] for s in sessions)
    # A cursor from another database (restored from a backup, say): start again from zero.
    reset = (await client.get("/auth/revocations", params={"since": since + 1000})).json()
    assert len(reset["revocations"]) == 2 and reset["more"] is True


@pytest.mark.anyio
@pytest.mark.parametrize(
    "params",
    [
        {"since": "-1"},
        {"since": "x"},
        {"since": "1.5"},
        {"wait": "31"},
        {"wait": "nan"},
        {"wait": "-1"},
    ],
)
async def test_feed_refuses_bad_parameters(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    assert_error(await client.get("/auth/revocations", params=params), 400, "invalid_request")


@pytest.mark.anyio
async def test_feed_long_poll_answers_as_soon_as_a_session_is_revoked(
    client: httpx.AsyncClient, auth: Tessera
) -> None:
    tokens = await login(client)
    began = time.monotonic()
    waiting = asyncio.create_task(client.get("/auth/revocations", params={"wait": "20"}))
    await until(lambda: auth.revocations.changed.waiting, "the request to be held there")
    assert auth.revocations.changed.waiting == 1
    assert not waiting.done()  # nothing revoked yet: the request is held
    await client.post("/auth/logout", headers=bearer(tokens["access_token"]))
    page = (await waiting).json()
    assert [r["sid"] for r in page["revocations"]] == [tokens["session_id"]]
    assert time.monotonic() - began < 20  # it answered because of the revocation


@pytest.mark.anyio
async def test_a_restarted_server_still_refuses_revoked_sessions(
    client: httpx.AsyncClient, settings: object, clock: ManualClock
) -> None:
    tokens = await login(client)
    await client.post("/auth/logout", headers=bearer(tokens["access_token"]))
    restarted = Tessera(settings, clock=clock)  # type: ignore[arg-type]
    try:
        with pytest.raises(InvalidToken) as refused:
            await restarted.verify_access_token(tokens["access_token"])
        assert refused.value.reason == "revoked"
    finally:
        await restarted.close()


# across processes and services ---------------------------------------------------------


def http_login(base: str, username: str = "alice") -> dict[str, str]:
    response = httpx.post(
        f"{base}/auth/login",
        json={"username": username, "password": PASSWORD, "transport": "body"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def refused_by(verifier: Verifier, token: str) -> bool:
    try:
        verifier.verify(token)
    except InvalidToken as exc:
        assert exc.reason == "revoked", exc.reason
        return True
    return False


def test_cli_revocation_reaches_a_running_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    add_user(data_dir, "alice")
    service = Tessera(make_settings(data_dir))
    with in_process_server(service) as base:
        tokens = http_login(base)
        me = f"{base}/api/me"
        assert httpx.get(me, headers=bearer(tokens["access_token"])).status_code == 200
        result = subprocess.run(
            [*COMMAND, "sessions", "revoke", tokens["session_id"], "--data-dir", str(data_dir)],
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        # Another process wrote it: the server's next poll of the store picks it up.
        wait_until(
            lambda: httpx.get(me, headers=bearer(tokens["access_token"])).status_code == 401,
            "the revocation",
            DEADLINE,
        )


def test_verifier_following_the_feed_refuses_a_revoked_session_even_from_its_cache(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    add_user(data_dir, "alice")
    with in_process_server(Tessera(make_settings(data_dir))) as base:
        tokens = http_login(base)
        verifier = Verifier(
            f"{base}/.well-known/jwks.json",
            issuer=ISSUER,
            audience=AUDIENCE,
            revocations=f"{base}/auth/revocations",
        )
        try:
            assert verifier.revocations is not None
            assert verifier.revocations.wait_until_synced(DEADLINE)
            token = tokens["access_token"]
            assert verifier.verify(token).sid == tokens["session_id"]
            assert verifier.verify(token).sid == tokens["session_id"]  # now a cache hit
            logout = httpx.post(f"{base}/auth/logout", headers=bearer(token))
            assert logout.status_code == 204
            wait_until(lambda: refused_by(verifier, token), "the revocation", DEADLINE)
            with pytest.raises(InvalidToken):
                run_async(verifier.averify(token))
            health = verifier.health()["revocations"]
            assert health["mode"] == "live" and health["revoked_sessions"] == 1
        finally:
            verifier.close()


def test_verifier_falls_back_to_exp_and_says_so_when_the_feed_is_down(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    add_user(data_dir, "alice")
    with in_process_server(Tessera(make_settings(data_dir))) as base:
        tokens = http_login(base)
        feed = RevocationFeed(f"{base}/auth/revocations", wait=1.0, max_retry_delay=0.2)
        verifier = Verifier(
            f"{base}/.well-known/jwks.json", issuer=ISSUER, audience=AUDIENCE, revocations=feed
        )
        assert feed.wait_until_synced(DEADLINE)
        assert verifier.verify(tokens["access_token"]).sub
    # The auth server is gone: what the verifier knows stays, tokens live until their exp.
    try:
        wait_until(lambda: not feed.healthy, "the feed's failure", DEADLINE)
        health = verifier.health()["revocations"]
        assert health["mode"] == "exp_only" and health["last_error"]
        assert verifier.verify(tokens["access_token"]).sub
    finally:
        verifier.close()


def test_shutdown_answers_waiting_long_polls(tmp_path: Path) -> None:
    service = Tessera(make_settings(tmp_path / "data"))
    answers: list[httpx.Response] = []
    with httpx.Client(timeout=30) as client:
        with in_process_server(service) as base:

            def poll() -> None:
                answers.append(client.get(f"{base}/auth/revocations", params={"wait": "25"}))

            poller = threading.Thread(target=poll)
            poller.start()
            wait_until(lambda: service.revocations.changed.waiting == 1, "the long-poll", DEADLINE)
            assert not answers  # held: nothing has been revoked
            began = time.monotonic()
        # Leaving the block stopped the server (within STOP_TIMEOUT, or it fails): the
        # waiting poll was answered rather than held for its 25 s.
        poller.join(STOP_TIMEOUT)
    assert time.monotonic() - began < STOP_TIMEOUT
    assert answers and answers[0].status_code == 200


@pytest.mark.slow
def test_revocation_on_one_replica_reaches_another_and_its_verifiers(
    tmp_path: Path,
    pg_url: str,  # noqa: F811
) -> None:
    """Two replicas on one PostgreSQL; sessions revoked on A. B (woken by NOTIFY) and a
    verifier following B's feed refuse the sessions' unexpired tokens. Prints the
    propagation times; the target is under a second."""

    def replica(name: str) -> Tessera:
        return Tessera(
            make_settings(tmp_path / name, database_url=pg_url, secret=SECRET),
        )

    a, b = replica("a"), replica("b")
    run_async(_add_alice(a))
    with in_process_server(a) as base_a, in_process_server(b) as base_b:
        verifier = Verifier(
            f"{base_b}/.well-known/jwks.json",
            issuer=ISSUER,
            audience=AUDIENCE,
            revocations=f"{base_b}/auth/revocations",
        )
        try:
            assert verifier.revocations is not None
            assert verifier.revocations.wait_until_synced(DEADLINE)
            me_b = f"{base_b}/api/me"

            def revoke_and_time(token: str) -> tuple[float, float, float]:
                began = time.monotonic()
                httpx.post(f"{base_a}/auth/logout", headers=bearer(token))
                answered = time.monotonic()
                wait_until(lambda: refused_by(verifier, token), "the revocation", DEADLINE)
                seen = time.monotonic()
                wait_until(
                    lambda: httpx.get(me_b, headers=bearer(token)).status_code == 401,
                    "the revocation on B",
                    DEADLINE,
                )
                return seen - began, seen - answered, time.monotonic() - began

            timings = []
            for _ in range(15):
                tokens = http_login(base_a)
                token = tokens["access_token"]
                assert verifier.verify(token).sid == tokens["session_id"]
                assert httpx.get(me_b, headers=bearer(token)).status_code == 200
                timings.append(revoke_and_time(token))
            from_request, from_answer, replica = zip(*timings, strict=True)
            print(
                "\nrevocation on replica A, refused by a verifier following B's feed: "
                f"median {statistics.median(from_request) * 1000:.1f} ms, max "
                f"{max(from_request) * 1000:.1f} ms after the logout request began "
                f"(median {statistics.median(from_answer) * 1000:.1f} ms after its answer); "
                f"by B's own /api/me: max {max(replica) * 1000:.1f} ms"
            )
            assert b.revocations.health()["notices"] is True  # woken by NOTIFY, not polling
            metrics = httpx.get(f"{base_b}/metrics").text
            assert "tessera_revocation_notices_up 1.0" in metrics
            assert "tessera_revoked_sessions 15.0" in metrics
        finally:
            verifier.close()


async def _add_alice(service: Tessera) -> None:
    await service.start()
    try:
        await service.users.add("alice", PASSWORD)
    finally:
        await service.close()
