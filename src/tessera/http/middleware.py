"""Pure-ASGI middleware for the standalone server: a request-body cap and security headers."""

from __future__ import annotations

import json
import logging
import re
import secrets
import time

from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tessera.logs import log_access, request_id
from tessera.metrics import Metrics

access_log = logging.getLogger("tessera.access")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# The methods a metric label may name; any other (clients may send any token) is "other", so a
# client cannot grow the metrics without bound.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class BodyLimitMiddleware:
    """Refuse bodies over `limit` bytes with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if not value.isdigit():
                    await _send_error(send, 400, "invalid_request", "bad Content-Length")
                    return
                if int(value) > self.limit:
                    await self._reject(send)
                    return
        received = 0
        answered = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # Answer now; the app sees a disconnect and whatever it sends is dropped.
                    answered = True
                    if not started:
                        await self._reject(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if not answered:
                started = True
                await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not answered:
                raise

    async def _reject(self, send: Send) -> None:
        description = f"request body exceeds {self.limit} bytes"
        await _send_error(send, 413, "request_too_large", description)


async def _send_error(send: Send, status: int, code: str, description: str) -> None:
    body = json.dumps({"error": code, "error_description": description}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SecurityHeadersMiddleware:
    """Adds conservative browser-security headers to every response that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class RequestContextMiddleware:
    """Gives every request an id (a sane incoming `X-Request-ID`, else a new one) that its log
    lines and its response carry, and records its latency per route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # The histogram's child per (route, method, status class): looked up once, not on
        # every request (a child never goes away; the keys are bounded as the labels are).
        self.latency: dict[tuple[str, str, int], Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers", ())).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _REQUEST_ID.fullmatch(incoming) else secrets.token_hex(8)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())],
                }
            await send(message)

        try:
            await self.app(scope, receive, with_id)
        finally:
            duration = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
            self.latency_of(route, method, status // 100).observe(duration)
            client = scope.get("client")
            path = printable(scope["path"])  # never the query string: it may carry secrets
            log_access(
                access_log,
                method=scope["method"],
                path=path,
                status=status,
                elapsed_ms=duration * 1000,
                route=route,
                client=client[0] if client else None,
            )
            request_id.reset(token)

    def latency_of(self, route: str, method: str, status_class: int) -> Histogram:
        key = (route, method, status_class)
        child = self.latency.get(key)
        if child is None:
            child = self.latency[key] = self.metrics.latency.labels(
                route, method, f"{status_class}xx"
            )
        return child


def printable(text: str) -> str:
    """`text` with every character a log reader could take for a line break or a terminal
    command (control characters, NEL, U+2028, any other non-printable) written as its Python
    escape, and backslashes doubled so an escape in the text cannot pass for one of ours.
    The server decodes `%0a` in a path to a real newline: printed as is, it starts a line."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(
        c if c.isprintable() and c != "\\" else c.encode("unicode_escape").decode() for c in text
    )
