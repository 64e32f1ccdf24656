"""`TokenAuth`: an `httpx.Auth` that keeps a Tessera session alive for any number of threads
and tasks.

Before sending, it refreshes when the access token is within min(60 s, TTL/3) of expiry; on a
401 `invalid_token` it refreshes once and retries once. Refreshes are single-flight — one lock
for threads, one lazily created lock per event loop for tasks, a file lock between processes
sharing a `FileTokenStore` — and double-checked with a generation counter, so N callers that
find the token stale cause one `/auth/refresh`. With rotating refresh tokens that is the point:
a second concurrent rotation would burn the session.

Refreshes go to the auth server on a connection of their own (`client_options`), so a failure
on the way there can fall back to the still-valid token instead of failing the API request.

The token goes only to the auth server's origin and the `api_origins` listed; a request
anywhere else passes through untouched (no header, no refresh, no retry).

With `dpop=True` (the default) each login makes a new P-256 key and proves it (RFC 9449): a
server that supports DPoP binds the session to it (`token_type: "DPoP"`), and from then on
every refresh and every request carries a proof by that key, so a stolen refresh or access
token is useless without it. A server that does not simply ignores the proofs. The key is saved
with the tokens in a `FileTokenStore`. A server nonce asked for (`use_dpop_nonce`) is sent in a
retry, once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import AsyncGenerator, Callable, Generator, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any

import anyio.to_thread
import httpx

from tessera.client.devices import DeviceSessions
from tessera.client.dpop import ProofSigner
from tessera.client.errors import LoginFailed, LoginRequired, TransientAuthError
from tessera.client.httpx_compat import rewinder
from tessera.client.origins import origin_of, trusted_origins
from tessera.client.responses import error_of, rejects_token, retry_after
from tessera.client.store import FileTokenStore
from tessera.client.tokens import BadTokenResponse, TokenSet, parse_token_response
from tessera.clock import Clock, SystemClock
from tessera.dpop import ProofKey

log = logging.getLogger("tessera.client")

OnTokens = Callable[[str, TokenSet], None]

# What an httpx client sends: a request built on its own carries none, and the server names the
# session's device ("Python httpx" in the user's list of sessions) from its login's agent.
AGENT = {"User-Agent": f"python-httpx/{httpx.__version__}"}


@dataclass(frozen=True, slots=True)
class _State:
    """Everything a request reads, swapped in one assignment (readers never see half)."""

    tokens: TokenSet | None
    refresh_token: str | None
    generation: int
    ended: bool = False  # /auth/refresh said 401: no more refreshes until a login
    rejected: bool = False  # the server refused this access token: refresh before next use


class TokenAuth(DeviceSessions):
    """Authenticate httpx requests with a Tessera session, refreshing it as needed.

    `url` is the auth prefix, e.g. `http://localhost:8000/auth`. Resume a saved session with
    `refresh_token=` or `store=FileTokenStore(path)`; `on_tokens(refresh_token, tokens)` is
    called after every login and rotation. The token is sent to `url`'s origin and to the
    `api_origins` listed (e.g. `["https://api.example.com"]`), nowhere else.

    `sessions()`, `revoke_session(id)` and `revoke_other_sessions()` (and `a…` for asyncio)
    are the user's "your devices" (`DeviceSessions`).
    """

    def __init__(
        self,
        url: str,
        *,
        refresh_token: str | None = None,
        store: FileTokenStore | None = None,
        on_tokens: OnTokens | None = None,
        clock: Clock | None = None,
        client_options: dict[str, Any] | None = None,
        api_origins: Iterable[str] = (),
        dpop: bool = True,
        dpop_key: ProofKey | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._dpop = dpop
        self._origins = trusted_origins(self.url, api_origins)
        self._store = store
        self._on_tokens = on_tokens
        self._clock: Clock = clock or SystemClock()
        self._client_options = {"timeout": 10.0, **(client_options or {})}
        self._ended_here = self._revoked_elsewhere
        saved = store.load() if store is not None else None
        if dpop_key is None and store is not None and refresh_token is None:
            dpop_key = store.load_key()
        self._signer = ProofSigner(dpop_key if dpop else None, self._clock)
        self._state = _State(
            tokens=saved if refresh_token is None else None,
            refresh_token=refresh_token or (saved.refresh_token if saved else None),
            generation=0,
        )
        self._thread_lock = threading.Lock()  # single-flight refresh for threads
        self._state_guard = threading.Lock()  # every write of _state, held only for the swap
        self._loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._loop_locks_guard = threading.Lock()

    # what callers can look at ----------------------------------------------------------------

    @property
    def tokens(self) -> TokenSet | None:
        return self._state.tokens

    @property
    def refresh_token(self) -> str | None:
        return self._state.refresh_token

    @property
    def dpop_key(self) -> ProofKey | None:
        """The key the session is bound to (keep it secret, with the refresh token)."""
        return self._signer.key

    # login / logout --------------------------------------------------------------------------

    def login(self, username: str, password: str) -> TokenSet:
        """Open a session; raises `LoginFailed` when the server refuses."""
        signer = self._new_signer()
        with httpx.Client(**self._client_options) as client:
            response = client.send(self._login_request(signer, username, password))
            if signer.asks_for_nonce(response):
                response = client.send(self._login_request(signer, username, password))
        with self._thread_lock:
            return self._accept_login(response, signer)

    async def alogin(self, username: str, password: str) -> TokenSet:
        signer = self._new_signer()
        async with httpx.AsyncClient(**self._client_options) as client:
            response = await client.send(self._login_request(signer, username, password))
            if signer.asks_for_nonce(response):
                response = await client.send(self._login_request(signer, username, password))
        async with self._loop_lock():
            return self._accept_login(response, signer)

    def logout(self) -> None:
        """End the session on the server (best effort) and forget it here."""
        token = self._state.refresh_token
        if token is not None:
            try:
                with httpx.Client(**self._client_options) as client:
                    response = client.send(self._logout_request(token))
                    if self._signer.asks_for_nonce(response):
                        client.send(self._logout_request(token))
            except httpx.HTTPError:
                log.warning("could not reach the auth server to log out; forgetting the session")
        self._end()

    async def alogout(self) -> None:
        token = self._state.refresh_token
        if token is not None:
            try:
                async with httpx.AsyncClient(**self._client_options) as client:
                    response = await client.send(self._logout_request(token))
                    if self._signer.asks_for_nonce(response):
                        await client.send(self._logout_request(token))
            except httpx.HTTPError:
                log.warning("could not reach the auth server to log out; forgetting the session")
        self._end()

    def _logout_request(self, token: str) -> httpx.Request:
        """A bound session ends only with a proof by its key."""
        url = self.url + "/logout"
        headers = {**AGENT, **self._signer.proof_headers("POST", url)}
        return httpx.Request("POST", url, json={"refresh_token": token}, headers=headers)

    def _new_signer(self) -> ProofSigner:
        """A new session, a new key (none with `dpop=False`)."""
        return ProofSigner(ProofKey.generate() if self._dpop else None, self._clock)

    def _login_request(self, signer: ProofSigner, username: str, password: str) -> httpx.Request:
        url = self.url + "/login"
        body = {"username": username, "password": password, "transport": "body"}
        headers = {**AGENT, **signer.proof_headers("POST", url)}
        return httpx.Request("POST", url, json=body, headers=headers)

    def _accept_login(self, response: httpx.Response, signer: ProofSigner) -> TokenSet:
        if response.status_code != 200:
            error, description = error_of(response)
            raise LoginFailed(error, description, response.status_code, retry_after(response))
        tokens = parse_token_response(response.json(), self._clock.now())
        signer.remember_nonce(response)
        self._signer = signer if tokens.bound else ProofSigner(None, self._clock)
        self._install(tokens)
        return tokens

    # state changes (callers hold the lock) ---------------------------------------------------

    def _install(self, tokens: TokenSet) -> None:
        with self._state_guard:
            self._state = _State(tokens, tokens.refresh_token, self._state.generation + 1)
        if self._store is not None:
            self._store.save(tokens, self._signer.key)
        if self._on_tokens is not None:
            self._on_tokens(tokens.refresh_token, tokens)

    def _end(self) -> None:
        with self._state_guard:
            self._state = _State(None, None, self._state.generation + 1, ended=True)
        self._signer = ProofSigner(None, self._clock)  # the key dies with its session
        if self._store is not None:
            self._store.clear()

    def _revoked_elsewhere(self, session_id: str) -> None:
        """A session was revoked through this client: if it is this client's, forget it."""
        tokens = self._state.tokens
        if tokens is not None and tokens.session_id == session_id:
            self._end()

    def _needs_refresh(self, state: _State) -> bool:
        return state.tokens is None or state.rejected or state.tokens.stale(self._clock.now())

    def _mark_rejected(self, generation: int) -> None:
        """The server refused generation `generation`'s access token (and the request could
        not be replayed): refresh proactively before the next request."""
        with self._state_guard:
            if self._state.generation == generation:
                self._state = replace(self._state, rejected=True)

    def _adopt_saved(self) -> bool:
        """Another process sharing the store rotated already: take its tokens if fresh."""
        if self._store is None:
            return False
        saved = self._store.load()
        if saved is None or saved.refresh_token == self._state.refresh_token:
            return False
        if saved.stale(self._clock.now()):
            with self._state_guard:
                self._state = replace(self._state, refresh_token=saved.refresh_token)
            return False
        key = self._store.load_key() if self._dpop else None
        if key is not None and (self._signer.key is None or key.jkt != self._signer.key.jkt):
            self._signer = ProofSigner(key, self._clock)  # another process logged in anew
        with self._state_guard:
            self._state = _State(saved, saved.refresh_token, self._state.generation + 1)
        log.debug("adopted tokens rotated by another process")
        return True

    def _refresh_request(self) -> httpx.Request:
        state = self._state
        if state.refresh_token is None:
            raise LoginRequired("no session: log in first" if not state.ended else "session ended")
        url = self.url + "/refresh"
        return httpx.Request(
            "POST",
            url,
            json={"refresh_token": state.refresh_token},
            headers={**AGENT, **self._signer.proof_headers("POST", url)},
        )

    def _accept_refresh(self, response: httpx.Response) -> None:
        """Apply a read `/auth/refresh` response, or raise."""
        self._signer.remember_nonce(response)
        if response.status_code == 200:
            try:
                tokens = parse_token_response(response.json(), self._clock.now())
            except (ValueError, BadTokenResponse) as exc:
                raise TransientAuthError(f"unusable refresh response: {exc}", 200) from None
            self._install(tokens)
            log.debug("refreshed; session %s", tokens.session_id)
            return
        error, description = error_of(response)
        if response.status_code == 401:
            self._end()
            raise LoginRequired(f"{error}: {description}")
        raise TransientAuthError(
            f"refresh failed ({response.status_code} {error}); the session is kept",
            response.status_code,
            retry_after(response),
        )

    def _sends_token_to(self, request: httpx.Request) -> bool:
        return origin_of(request.url) in self._origins

    def _authorize(self, request: httpx.Request, state: _State) -> None:
        if state.tokens is None:
            raise LoginRequired("session ended" if state.ended else "no session: log in first")
        token = state.tokens.access_token
        if state.tokens.bound and self._signer.key is not None:
            request.headers["Authorization"] = f"DPoP {token}"
            request.headers.update(self._signer.proof_headers(request.method, request.url, token))
        else:
            request.headers["Authorization"] = f"Bearer {token}"

    def _usable_after_failure(self, state: _State) -> bool:
        """After a transient refresh failure: can the current token still be sent?"""
        tokens = state.tokens
        return tokens is not None and self._clock.now() < tokens.local_expires_at

    # sync ------------------------------------------------------------------------------------

    def _sync_refresh(self, seen: int) -> None:
        """Refresh unless someone did since generation `seen`. Caller holds the thread lock."""
        if self._state.generation != seen:
            return
        with self._store.locked() if self._store else nullcontext():
            if self._adopt_saved():
                return
            with httpx.Client(**self._client_options) as client:
                response = client.send(self._refresh_request())
                if self._signer.asks_for_nonce(response):
                    response = client.send(self._refresh_request())
            self._accept_refresh(response)

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        if not self._sends_token_to(request):
            yield request  # another origin: untouched, whatever it answers
            return
        rewind = rewinder(request)
        state = self._state
        if self._needs_refresh(state):
            with self._thread_lock:
                try:
                    self._sync_refresh(state.generation)
                except (TransientAuthError, httpx.TransportError):
                    if not self._usable_after_failure(self._state):
                        raise  # expired: nothing to fall back on
            state = self._state
        self._authorize(request, state)
        response = yield request
        if rewind is not None and self._signer.asks_for_nonce(response):
            rewind()  # the proof again, with the server's nonce
            self._authorize(request, state)
            response = yield request
        if not rejects_token(response) or not self._sends_token_to(response.request):
            return  # (a redirect may have ended on another origin: its 401 is not about us)
        if rewind is None:
            # The body cannot be sent again: hand back the 401, refresh before the next request.
            self._mark_rejected(state.generation)
            return
        with self._thread_lock:
            self._sync_refresh(state.generation)
        rewind()  # (httpx itself reads and closes the 401 once we yield the retry)
        self._authorize(request, self._state)
        yield request

    # async -----------------------------------------------------------------------------------

    def _loop_lock(self) -> asyncio.Lock:
        """One lock per event loop, made on first use there: one TokenAuth, many loops."""
        loop = asyncio.get_running_loop()
        with self._loop_locks_guard:
            lock = self._loop_locks.get(loop)
            if lock is None:
                lock = self._loop_locks[loop] = asyncio.Lock()
            return lock

    async def _async_refresh(self, seen: int) -> None:
        """Refresh unless someone did since generation `seen`, under this loop's lock."""
        async with self._loop_lock():
            if self._state.generation != seen:
                return
            fd = await self._acquire_store_lock()
            try:
                if self._adopt_saved():
                    return
                async with httpx.AsyncClient(**self._client_options) as client:
                    response = await client.send(self._refresh_request())
                    if self._signer.asks_for_nonce(response):
                        response = await client.send(self._refresh_request())
                self._accept_refresh(response)
            finally:
                if fd is not None:
                    FileTokenStore.release(fd)

    async def _acquire_store_lock(self) -> int | None:
        """The store's file lock, taken in a worker thread; never leaked on cancellation."""
        store = self._store
        if store is None:
            return None
        taken: list[int] = []
        try:
            await anyio.to_thread.run_sync(lambda: taken.append(store.acquire()))
        except BaseException:
            for fd in taken:
                FileTokenStore.release(fd)
            raise
        return taken[0]

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if not self._sends_token_to(request):
            yield request  # see sync_auth_flow
            return
        rewind = rewinder(request)
        state = self._state
        if self._needs_refresh(state):
            try:
                await self._async_refresh(state.generation)
            except (TransientAuthError, httpx.TransportError):
                if not self._usable_after_failure(self._state):
                    raise
            state = self._state
        self._authorize(request, state)
        response = yield request
        if rewind is not None and self._signer.asks_for_nonce(response):
            rewind()  # see sync_auth_flow
            self._authorize(request, state)
            response = yield request
        if not rejects_token(response) or not self._sends_token_to(response.request):
            return
        if rewind is None:
            self._mark_rejected(state.generation)  # see sync_auth_flow
            return
        await self._async_refresh(state.generation)
        rewind()
        self._authorize(request, self._state)
        yield request
