"""The URL a DPoP proof must name (`credentials.request_url`) for an ASGI request, as Starlette
sees it, remembered per what it is made of.

Building Starlette's `URL` for a request, then splitting it again, cost every DPoP request
~20 µs inside the server, and a client asks for the same few URLs over and over. Starlette's
URL is made of the scheme, the server's address, the first `Host` header, the path and the
query string, and the proof's URL takes the scheme and authority of it, then its path: the
query string cannot move either (Starlette escapes `?` and `#` in the path), so those four
and the configured public URL are the key. What is remembered is the answer the slow way
gave, so the two cannot differ. A request whose `Host` or path is longer than any real one
is answered the slow way and not kept."""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection

from tessera.verify.credentials import request_url

CACHE_SIZE = 1024
# Keys longer than a real host name or route are not kept: anyone can send 1 024 of those
# (headers up to `max_header_bytes` each), and each held key would hold all of it.
MAX_HOST = 300
MAX_PATH = 512

_targets: dict[tuple[Any, ...], str] = {}


def proof_target(connection: HTTPConnection, public_url: str | None) -> str:
    """`request_url` for `connection`, under `public_url` when one is configured."""
    scope = connection.scope
    host = None
    for name, value in scope["headers"]:
        if name == b"host":
            host = value
            break
    server = scope.get("server")
    if server is not None:
        server = tuple(server)  # a list from some servers and test clients
    path = scope["path"]
    if (host is not None and len(host) > MAX_HOST) or len(path) > MAX_PATH:
        return request_url(str(connection.url), connection.url.path, public_url)
    key = (scope.get("scheme"), server, host, path, public_url)
    target = _targets.get(key)
    if target is None:
        target = request_url(str(connection.url), connection.url.path, public_url)
        if len(_targets) >= CACHE_SIZE:
            _targets.clear()  # one step, safe from any thread; rebuilt by the next requests
        _targets[key] = target
    return target
