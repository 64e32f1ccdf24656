""" "Your devices" from the Python client, over a real socket: two logged-in clients of one user,
the second lists the sessions and signs the first out; the first finds out on its next refresh,
the second goes on. Through `TokenAuth`'s own flow, so DPoP proofs and refreshes apply."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tessera.client import DeviceSession, LoginRequired, TokenAuth
from tests.client_live import Live, serve_live
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

TTL = 60


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    yield from serve_live(tmp_path, access_ttl=TTL)


def me(live: Live, auth: TokenAuth) -> httpx.Response:
    with httpx.Client(auth=auth, base_url=live.url) as client:
        return client.get("/api/me")


@pytest.mark.parametrize("dpop", [True, False], ids=["dpop", "bearer"])
def test_the_second_device_signs_the_first_out(live: Live, dpop: bool) -> None:
    first, second = live.client(dpop), live.client(dpop)
    one = first.login("alice", PASSWORD)
    two = second.login("alice", PASSWORD)
    assert one.bound is dpop

    listed = second.sessions()
    assert all(isinstance(s, DeviceSession) for s in listed)
    assert {s.id: s.current for s in listed} == {one.session_id: False, two.session_id: True}
    assert {s.device for s in listed} == {"Python httpx"}

    second.revoke_other_sessions()
    # The first's access token is refused at once; its refresh then says the session is over.
    with pytest.raises(LoginRequired):
        me(live, first)
    assert first.tokens is None
    with pytest.raises(LoginRequired):
        first.sessions()  # and from now on without a request
    # The second goes on, refreshes included.
    assert me(live, second).status_code == 200
    live.clock.advance(TTL)
    assert [s.id for s in second.sessions()] == [two.session_id]
    assert second.tokens is not None and second.tokens.session_id == two.session_id


async def test_async_revoke_one_session_by_id(live: Live) -> None:
    first, second, third = live.client(), live.client(), live.client()
    one = await first.alogin("alice", PASSWORD)
    two = await second.alogin("alice", PASSWORD)
    three = await third.alogin("alice", PASSWORD)
    assert one.session_id is not None and three.session_id is not None

    assert await second.arevoke_session(one.session_id) is True
    assert await second.arevoke_session("no-such-session") is False
    assert {s.id for s in await third.asessions()} == {three.session_id, two.session_id}
    with pytest.raises(LoginRequired):
        await first.asessions()

    await third.arevoke_other_sessions()
    with pytest.raises(LoginRequired):
        await second.asessions()
    assert [s.current for s in await third.asessions()] == [True]


def test_revoking_its_own_session_ends_it_here(live: Live) -> None:
    auth = live.client()
    tokens = auth.login("alice", PASSWORD)
    assert tokens.session_id is not None
    assert auth.revoke_session(tokens.session_id) is True
    assert auth.tokens is None and auth.refresh_token is None
    with pytest.raises(LoginRequired):
        auth.sessions()
