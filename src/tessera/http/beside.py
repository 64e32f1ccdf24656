"""Tessera beside another ASGI application, in one process and on one origin.

    application = beside(Tessera(settings), django_or_starlette_or_adapted_wsgi_app)

Requests for Tessera's paths — its prefix (`/auth` and below), `/oauth/…`, and the two
`/.well-known/` documents it publishes — go to the app `tessera serve` runs (`create_app`:
the contract's error shape, body limit, security headers, CORS when configured, and the
key schedule and garbage collection in the background); every other request goes to the
application, untouched. Tessera's demo page, `/api/me`, `/healthz` and `/metrics` stay out
of the application's URL space.

The lifespan is run for both: Tessera's starts first (database migrated, keys loaded) and
stops last. An application without lifespan support (Django's handler refuses the scope) is
simply not started, as uvicorn's `lifespan="auto"` treats one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tessera.http.app import create_app
from tessera.http.mount import Tessera
from tessera.http.oauth.metadata import PATH as OAUTH_METADATA

__all__ = ["Beside", "beside", "tessera_paths"]

log = logging.getLogger("tessera.beside")

JWKS = "/.well-known/jwks.json"
OAUTH = "/oauth"


def beside(auth: Tessera, app: ASGIApp) -> Beside:
    """One ASGI application: Tessera's endpoints (see `tessera_paths`) and `app` for the rest."""
    return Beside(create_app(auth), app, tessera_paths(auth.settings.prefix))


def tessera_paths(prefix: str) -> Callable[[str], bool]:
    """Whether a request path is Tessera's: `prefix` and below, `/oauth` and below, and the
    JWKS and OAuth metadata documents."""
    prefix = prefix.rstrip("/")
    exact = {prefix, OAUTH, JWKS, OAUTH_METADATA}
    below = (prefix + "/", OAUTH + "/", OAUTH_METADATA + "/")

    def owns(path: str) -> bool:
        return path in exact or path.startswith(below)

    return owns


def route_path(scope: Scope) -> str:
    """The path as the application routes it: without the server's `root_path`."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


class Beside:
    """Dispatch each connection by path to `tessera` or `app`; run both lifespans."""

    def __init__(self, tessera: ASGIApp, app: ASGIApp, owns: Callable[[str], bool]) -> None:
        self.tessera = tessera
        self.app = app
        self.owns = owns

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        target = self.tessera if self.owns(route_path(scope)) else self.app
        await target(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        started: list[Lifespan] = []
        message = await receive()
        if message["type"] != "lifespan.startup":
            return
        for app, name in ((self.tessera, "Tessera"), (self.app, "the application")):
            lifespan = Lifespan(app, scope)
            failure = await lifespan.startup()
            if failure is not None:
                for done in reversed(started):
                    await done.shutdown()
                await send({"type": "lifespan.startup.failed", "message": failure})
                return
            if lifespan.supported:
                started.append(lifespan)
            else:
                log.debug("%s does not support the lifespan protocol; not started", name)
        await send({"type": "lifespan.startup.complete"})
        message = await receive()  # lifespan.shutdown (the only message left to come)
        failures = [f for done in reversed(started) if (f := await done.shutdown()) is not None]
        if failures:
            await send({"type": "lifespan.shutdown.failed", "message": "; ".join(failures)})
        else:
            await send({"type": "lifespan.shutdown.complete"})


class Lifespan:
    """One application's lifespan, driven from outside: `startup()`, later `shutdown()`; each
    returns None, or what failed."""

    def __init__(self, app: ASGIApp, scope: Scope) -> None:
        self.app = app
        self.scope = scope
        self.supported = True
        self._spoke = False  # whether the application has sent any lifespan message
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._outbox: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> str | None:
        self._task = asyncio.create_task(self._run(), name="tessera-beside-lifespan")
        await self._inbox.put({"type": "lifespan.startup"})
        reply = await self._reply()
        if reply is None:  # ended (or raised) without a word: no lifespan support
            self.supported = False
            return None
        if reply["type"] == "lifespan.startup.complete":
            return None
        return str(reply.get("message") or "startup failed")

    async def shutdown(self) -> str | None:
        await self._inbox.put({"type": "lifespan.shutdown"})
        reply = await self._reply()
        if reply is not None and reply["type"] == "lifespan.shutdown.complete":
            return None
        if reply is not None:
            return str(reply.get("message") or "shutdown failed")
        assert self._task is not None
        failure = self._task.exception() if self._task.done() else None
        return None if failure is None else f"{type(failure).__name__}: {failure}"

    async def _run(self) -> None:
        try:
            await self.app(self.scope, self._inbox.get, self._send)
        except Exception as exc:
            if self._spoke:
                raise
            # Raised before a word, as Django's handler does: no lifespan support (uvicorn's
            # "auto" mode reads it the same way).
            log.info("the application answers no lifespan (%s: %s)", type(exc).__name__, exc)

    async def _send(self, message: Message) -> None:
        self._spoke = True
        await self._outbox.put(message)

    async def _reply(self) -> Message | None:
        """The application's next message, or None once it has ended without one."""
        assert self._task is not None
        reply = asyncio.ensure_future(self._outbox.get())
        await asyncio.wait({reply, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if reply.done():
            return reply.result()
        reply.cancel()
        with suppress(asyncio.CancelledError):
            await reply
        if not self._outbox.empty():
            return self._outbox.get_nowait()
        return None
