"""What the cases run in: a service with users, clients from addresses of their own, the
sessions the cases aim at, and how a row is turned into a request."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from tessera import ManualClock, Tessera, create_app
from tests.conftest import PASSWORD, START, make_settings
from tests.helpers import login
from tests.malformed.table import Case, b64, b64j


@dataclass
class World:
    """The shared service, its clock, and two sessions of alice: "own", which the cases may
    aim at (re-opened whenever a case spends it), and "victim", opened before the barrage and
    never sent anywhere until the end."""

    service: Tessera
    app: FastAPI
    clock: ManualClock
    victim_refresh: str
    own: dict[str, Any] | None = None
    next_host: int = 0

    def client(self) -> httpx.AsyncClient:
        """A client from an address no other case uses (the login limit counts per IP)."""
        self.next_host += 1
        n = self.next_host
        return client_for(self.app, f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}")

    async def own_session(self) -> dict[str, Any]:
        if self.own is None:
            async with self.client() as client:
                self.own = await login(client)
        return self.own

    def past_grace(self) -> None:
        """Move beyond the reuse grace window: from here on, presenting a token that was
        rotated meanwhile is reuse (401), not a quiet replay (200)."""
        self.clock.advance(self.service.settings.reuse_grace + 1)


def client_for(app: FastAPI, ip: str) -> httpx.AsyncClient:
    # raise_app_exceptions=False: a crash is seen as the 500 a real client would get.
    transport = httpx.ASGITransport(app=app, client=(ip, 4242), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="https://testserver")


async def start_service(data_dir: Path, clock: ManualClock, **overrides: object) -> Tessera:
    service = Tessera(make_settings(data_dir, **overrides), clock=clock)
    await service.start()
    await service.users.add("alice", PASSWORD)
    await service.users.add("root", PASSWORD, role="admin")
    return service


@asynccontextmanager
async def open_world(data_dir: Path) -> AsyncIterator[World]:
    """A started service for the table, with the victim's session opened."""
    clock = ManualClock(START)
    # Each case moves the clock past the grace window; a long key-reload interval keeps that
    # from re-reading the key ring (and rebuilding the RSA key, ~50 ms) on every case. Login
    # limits are out of the way (hundreds of cases fail logins for alice); the default limits
    # have a test of their own.
    service = await start_service(
        data_dir,
        clock,
        key_reload_interval=1e9,
        login_limit_per_user=10**6,
        login_limit_per_ip=10**6,
    )
    try:
        app = create_app(service)
        async with client_for(app, "192.0.2.1") as client:
            victim = await login(client)
        yield World(service=service, app=app, clock=clock, victim_refresh=victim["refresh_token"])
    finally:
        await service.close()


def swapcase_tail(text: str) -> str:
    """Change letters but keep the shape (a `tsr1_` prefix stays a `tsr1_` prefix)."""
    head, sep, tail = text.partition("_")
    return head + sep + tail.swapcase() if sep else text.swapcase()


def markers(tokens: dict[str, Any]) -> dict[str, str]:
    access: str = tokens["access_token"]
    refresh: str = tokens["refresh_token"]
    header_segment, payload_segment, signature = access.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_segment + "=="))
    payload = json.loads(base64.urlsafe_b64decode(payload_segment + "=="))
    kid = header["kid"]
    dup_header = b'{"alg":"%s","alg":"none","kid":"%s","typ":"at+jwt"}' % (
        header["alg"].encode(),
        kid.encode(),
    )
    return {
        # longer markers first: "@REFRESH_CUT@" must not be eaten by "@REFRESH@"
        "@REFRESH_CUT@": refresh[:-1],
        "@REFRESH_SWAP@": swapcase_tail(refresh),
        "@REFRESH@": refresh,
        "@ACCESS@": access,
        "@SID_SWAP@": swapcase_tail(tokens["session_id"]),
        "@SID@": tokens["session_id"],
        "@HDR@": header_segment,
        "@PAY@": payload_segment,
        "@SIG@": signature,
        "@ADMIN_PAY@": b64j({**payload, "role": "admin"}),
        "@NONE_HDR@": b64j({"alg": "none", "kid": kid, "typ": "at+jwt"}),
        "@NONE_UPPER_HDR@": b64j({"alg": "NONE", "kid": kid, "typ": "at+jwt"}),
        "@HS_HDR@": b64j({"alg": "HS256", "kid": kid, "typ": "at+jwt"}),
        "@JKU_HDR@": b64j({**header, "jku": "https://evil.example/jwks.json"}),
        "@DUP_HDR@": b64(dup_header),
        "@JWT_TYP_HDR@": b64j({**header, "typ": "JWT"}),
    }


def fill(text: str, values: dict[str, str]) -> str:
    for marker, value in values.items():
        text = text.replace(marker, value)
    return text


def fill_bytes(data: bytes, values: dict[str, str]) -> bytes:
    for marker, value in values.items():
        data = data.replace(marker.encode(), value.encode())
    return data


def header_bytes(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode()


async def chunks(data: bytes, size: int = 8192) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def send(client: httpx.AsyncClient, case: Case, values: dict[str, str]) -> httpx.Response:
    headers = [(name.encode(), header_bytes(fill(value, values))) for name, value in case.headers]
    content: bytes | AsyncIterator[bytes] | None = None
    if case.body is not None:
        body = fill_bytes(case.body, values)
        content = chunks(body) if case.stream else body
    url = fill(case.path, values)
    request = client.build_request(case.method, url, headers=headers, content=content)
    if case.stream:
        request.headers.pop("content-length", None)
    return await client.send(request)
