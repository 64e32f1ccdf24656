"""Hypothesis writes bodies for the POST routes (JSON of any shape with the routes' field
names, bytes, text with surrogates and control characters, under assorted content types):
never a 5xx, every error in the contract's shape with no secret repeated, and after all of
them the service still works (a session opened before still refreshes, a fresh login too).

One service, on one event loop in a portal, takes every example and then the final check, all
inside one test, so the check never depends on another test having run first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from anyio.from_thread import start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera import ManualClock, Tessera, create_app
from tests.conftest import PASSWORD, START
from tests.helpers import login
from tests.malformed.checks import assert_error_shape, assert_login_refresh_api
from tests.malformed.table import JSON, LOGIN, LOGOUT, REFRESH, jbytes
from tests.malformed.world import client_for, start_service


@dataclass
class Fuzz:
    service: Tessera
    clock: ManualClock
    client: httpx.AsyncClient
    refresh_token: str  # issued before the fuzzing, never sent by it


@asynccontextmanager
async def fuzz_target(data_dir: Path) -> AsyncIterator[Fuzz]:
    """A started service with login limits out of the way (every example reaches the password
    check), a client, and a session opened before the fuzzing."""
    clock = ManualClock(START)
    service = await start_service(
        data_dir, clock, login_limit_per_user=10**6, login_limit_per_ip=10**6
    )
    try:
        async with client_for(create_app(service), "198.51.100.9") as client:
            tokens = await login(client)
            yield Fuzz(service, clock, client, tokens["refresh_token"])
    finally:
        await service.close()


FIELD_NAMES = st.sampled_from(["username", "password", "transport", "refresh_token"])
ANY_TEXT = st.text(
    alphabet=st.one_of(st.characters(), st.characters(categories=["Cs", "Cc", "Cf"])),
    max_size=40,
)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),  # NaN and ±Infinity included: json.dumps writes them as bare words
    ANY_TEXT,
    st.sampled_from(["alice", "root", PASSWORD, "body", "cookie", "tsr1_" + "A" * 43]),
)
ANY_JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(FIELD_NAMES, ANY_TEXT), inner, max_size=4),
    ),
    max_leaves=12,
)
OBJECTS_WITH_FIELDS = st.dictionaries(FIELD_NAMES, ANY_JSON, max_size=4)
CONTENT_TYPE = st.sampled_from(
    [
        JSON,
        JSON,
        JSON,
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
        "application/problem+json",
    ]
)
BODIES = st.one_of(
    st.tuples(OBJECTS_WITH_FIELDS.map(jbytes), st.just(JSON)),
    st.tuples(ANY_JSON.map(jbytes), st.just(JSON)),
    st.tuples(st.binary(max_size=300), CONTENT_TYPE),
    st.tuples(ANY_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")), CONTENT_TYPE),
)


async def post_fuzzed(fuzz: Fuzz, path: str, body: tuple[bytes, str | None]) -> None:
    content, content_type = body
    headers = {"content-type": content_type} if content_type is not None else {}
    response = await fuzz.client.post(path, content=content, headers=headers)
    assert response.status_code < 500, response.text
    if not 200 <= response.status_code < 300:
        assert_error_shape(response, [PASSWORD, fuzz.refresh_token])


async def assert_still_working(fuzz: Fuzz) -> None:
    fuzz.clock.advance(fuzz.service.settings.reuse_grace + 1)
    before = await fuzz.client.post(REFRESH, json={"refresh_token": fuzz.refresh_token})
    assert before.status_code == 200, before.text
    await assert_login_refresh_api(fuzz.client)


def test_fuzzed_bodies_then_the_service_still_works(tmp_path: Path) -> None:
    with (
        start_blocking_portal("asyncio") as portal,
        portal.wrap_async_context_manager(fuzz_target(tmp_path / "data")) as fuzz,
    ):

        @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(path=st.sampled_from([LOGIN, REFRESH, LOGOUT]), body=BODIES)
        def post(path: str, body: tuple[bytes, str | None]) -> None:
            portal.call(post_fuzzed, fuzz, path, body)

        post()
        portal.call(assert_still_working, fuzz)
