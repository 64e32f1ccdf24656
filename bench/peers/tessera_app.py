"""Tessera as `tessera serve --demo` runs it (the same app, uvicorn, logging), plus routes:
`GET /bench/open`, the demo's protected `GET /api/me` without the `Depends(auth.require())`,
so a protected request can be compared with the same request unprotected; `GET /bench/depends`,
the same behind a FastAPI dependency that does nothing (what any dependency costs, apart from
what `require()`'s does); and `GET /bench/cpu`, each path's median CPU time inside the app
since the last ask (`bench.peers.app_cpu`).

Logging as `tessera serve` ships: info level, so the access log writes one line per request to
stderr (the bench sends it to a file). SIGUSR1 turns the access log off and SIGUSR2 on again, so
the bench can measure its cost in one process, on and off rounds alternating.

Settings from the usual `TESSERA_*` environment; `python -m bench.peers.tessera_app PORT`
prints the same start-up lines as `tessera serve --demo`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import sys

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute

from bench.peers.app_cpu import AppCPU, LineWrites
from tessera import Settings, Tessera
from tessera.http.app import create_app
from tessera.http.models import Me
from tessera.http.server import bind_socket, build_server, url_of
from tessera.logs import LineHandler
from tessera.logs import configure as configure_logging


def me_route(app: FastAPI) -> APIRoute:
    return next(r for r in app.router.routes if isinstance(r, APIRoute) and r.path == "/api/me")


def bench_app(auth: Tessera) -> FastAPI:
    """`tessera serve`'s app, and `/bench/open`."""
    app = create_app(auth)

    @app.get("/bench/open", response_model=Me)
    async def open_me() -> Me:
        """/api/me's handler without the bearer check."""
        return Me(sub="u", role="user", sid="s", exp=0)

    async def nothing(request: Request) -> None:
        """A dependency of `require()`'s shape that checks nothing."""

    @app.get("/bench/depends", response_model=Me)
    async def depends_me(_: None = Depends(nothing)) -> Me:
        """/api/me's handler behind a dependency that does nothing."""
        return Me(sub="u", role="user", sid="s", exp=0)

    # Tried right after /api/me, as the router tries routes in order: they differ from it by
    # the bearer check alone, not by how far down the list each is found.
    routes = app.router.routes
    twins = [routes.pop(), routes.pop()]
    routes[routes.index(me_route(app)) + 1 : routes.index(me_route(app)) + 1] = reversed(twins)
    return app


def main(port: int) -> None:
    settings = Settings()
    auth = Tessera(settings)
    app = bench_app(auth)
    sock = bind_socket("127.0.0.1", port)

    async def serve() -> None:
        await auth.start()
        password = secrets.token_urlsafe(12)
        await auth.users.add("demo", password)
        print(f"Tessera listening on {url_of(sock)}", flush=True)
        print(f"  demo login: username 'demo', password '{password}'", flush=True)
        configure_logging(settings.log_format, "info")
        handler = logging.getLogger().handlers[0]
        writes = LineWrites(handler) if isinstance(handler, LineHandler) else None
        server = build_server(auth, app=AppCPU(app, writes), log_level="info")
        access = logging.getLogger("tessera.access")
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, lambda: setattr(access, "disabled", True))
        loop.add_signal_handler(signal.SIGUSR2, lambda: setattr(access, "disabled", False))
        await server.serve(sockets=[sock])

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
