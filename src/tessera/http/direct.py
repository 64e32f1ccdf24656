"""The standalone server's hot routes answered without the router's walk.

FastAPI's router (0.123 and later) finds a route by trying each one in turn through the
contexts of the routers it includes: on the standalone app, ~60 µs of a refresh, a sixth of
the app's own work (the HTTP server's parsing and writing come on top). A route whose
handler needs nothing but the request (`contract`'s `takes_only_the_request`:
`/auth/refresh`) is found here by its exact method and path, and its handler called as the
router would call it. Everything else goes on to the app.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from tessera.http.contract import takes_only_the_request

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class DirectRoutes:
    """ASGI middleware, innermost in the app's stack (inside every other middleware, so the
    access log, the body limit, CORS and the security headers see these requests as any)."""

    def __init__(self, app: ASGIApp, routes: Iterable[BaseRoute]) -> None:
        self.app = app
        self.table: dict[tuple[str, str], tuple[APIRoute, Handler]] = {}
        for route in routes:
            if isinstance(route, APIRoute) and takes_only_the_request(route):
                handler = route.get_route_handler()
                for method in route.methods or ():
                    self.table[(method, route.path)] = (route, handler)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            found = self.table.get((scope["method"], scope["path"]))
            if found is not None:
                route, handler = found
                # What the router's match would have put in the scope: the metrics and the
                # access log label requests by scope["route"].
                scope["route"] = route
                scope["endpoint"] = route.endpoint
                scope["path_params"] = {}
                response = await handler(Request(scope, receive, send))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
