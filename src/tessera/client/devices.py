""" "Your devices" for `TokenAuth`: list the user's sessions, sign one out, or sign out all
but this one.

Each call goes through `TokenAuth`'s own auth flow (an httpx client with `auth=self`), so it
gets what any request gets: the proactive refresh, a DPoP proof for a bound session, and one
refresh and retry on a 401 — and `LoginRequired` once the session is over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx


@dataclass(frozen=True, slots=True)
class DeviceSession:
    """One of the user's sessions as `GET {prefix}/sessions` lists it."""

    id: str
    created_at: float
    last_used_at: float
    expires_at: float
    refresh_expires_at: float
    ip: str | None
    user_agent: str | None
    device: str | None  # "Firefox on Linux", "Python httpx", … (None: not recognised)
    current: bool  # the session of this client

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> DeviceSession:
        return cls(
            id=str(item["id"]),
            created_at=float(item["created_at"]),
            last_used_at=float(item["last_used_at"]),
            expires_at=float(item["expires_at"]),
            refresh_expires_at=float(item["refresh_expires_at"]),
            ip=item.get("ip"),
            user_agent=item.get("user_agent"),
            device=item.get("device"),
            current=bool(item.get("current", False)),
        )


def _listed(response: httpx.Response) -> list[DeviceSession]:
    response.raise_for_status()
    return [DeviceSession.from_json(item) for item in response.json()["sessions"]]


def _revoked(response: httpx.Response) -> bool:
    """True: revoked; False: 404, no such session of this user (or already ended)."""
    if response.status_code == 404:
        return False
    response.raise_for_status()
    return True


class DeviceSessions(httpx.Auth):
    """The session-management calls of `TokenAuth` (which provides the auth flow)."""

    url: str
    _client_options: dict[str, Any]
    # Called with a session id just revoked: `TokenAuth` forgets it if it is its own session.
    _ended_here: Callable[[str], None]

    def _session_url(self, session_id: str) -> str:
        return f"{self.url}/sessions/{quote(session_id, safe='')}"

    def _client(self) -> httpx.Client:
        return httpx.Client(**{**self._client_options, "auth": self})

    def _async_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(**{**self._client_options, "auth": self})

    def sessions(self) -> list[DeviceSession]:
        """The user's active sessions, newest first; this client's has `current=True`.
        Other failures than the session's end raise `httpx.HTTPStatusError`."""
        with self._client() as client:
            return _listed(client.get(self.url + "/sessions"))

    async def asessions(self) -> list[DeviceSession]:
        async with self._async_client() as client:
            return _listed(await client.get(self.url + "/sessions"))

    def revoke_session(self, session_id: str) -> bool:
        """Sign out one of the user's sessions: its refresh token stops working and its access
        tokens are refused at once. False when the user has no such session (404). Revoking
        this client's own session ends it here too (as `logout()`)."""
        with self._client() as client:
            revoked = _revoked(client.delete(self._session_url(session_id)))
        self._ended_here(session_id)
        return revoked

    async def arevoke_session(self, session_id: str) -> bool:
        async with self._async_client() as client:
            revoked = _revoked(await client.delete(self._session_url(session_id)))
        self._ended_here(session_id)
        return revoked

    def revoke_other_sessions(self) -> None:
        """Sign out every other device of the user; this session goes on."""
        with self._client() as client:
            client.delete(self.url + "/sessions", params={"except": "current"}).raise_for_status()

    async def arevoke_other_sessions(self) -> None:
        async with self._async_client() as client:
            response = await client.delete(self.url + "/sessions", params={"except": "current"})
            response.raise_for_status()
