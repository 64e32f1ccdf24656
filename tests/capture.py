"""A plain HTTP server on another port that records every request it gets: the third party a
client must never hand the access token to.

It answers CORS preflights for any origin (the `DPoP` header allowed) and exposes
`WWW-Authenticate` and `DPoP-Nonce`, so a browser would send it the token and its proof (and
read its 401s) if the client let it: a test that finds no token there
has shown the client withheld it, not that the browser refused. Paths under `/401` answer 401
`invalid_token`, as an API would to a token it does not accept; `/redirect?to=URL` answers 302
to URL.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


class Capture:
    """What the server has seen, and URLs for it under two origins (one port, two hosts)."""

    def __init__(self) -> None:
        self.port = 0  # set once the server is bound
        self.seen: list[Seen] = []
        self._lock = threading.Lock()

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def requests(self, method: str = "GET") -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.method == method]


def _handler(capture: Capture) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            headers = {name.lower(): value for name, value in self.headers.items()}
            capture.record(Seen(self.command, self.path, headers))
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            preflight = self.command == "OPTIONS"
            rejected = self.path.startswith("/401") and not preflight
            target = parse_qs(urlsplit(self.path).query).get("to", [""])[0]
            redirect = self.path.startswith("/redirect") and not preflight
            body = b"" if preflight else json.dumps({"path": self.path}).encode()
            self.send_response(204 if preflight else 401 if rejected else 302 if redirect else 200)
            if redirect:
                self.send_header("Location", target)
            if origin := self.headers.get("origin"):
                self.send_header("Access-Control-Allow-Origin", origin)
                allowed = "authorization, content-type, dpop"
                self.send_header("Access-Control-Allow-Headers", allowed)
                self.send_header("Access-Control-Allow-Methods", "GET, POST")
                self.send_header("Access-Control-Expose-Headers", "www-authenticate, dpop-nonce")
            if rejected:
                self.send_header("WWW-Authenticate", 'Bearer error="invalid_token"')
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_OPTIONS = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass  # the test reads `capture.seen` instead

    return Handler


@contextmanager
def capture_server() -> Iterator[Capture]:
    """A recording server on 127.0.0.1 (reachable as `localhost` too), stopped on exit."""
    capture = Capture()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(capture))
    capture.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="capture-server", daemon=True)
    thread.start()
    try:
        yield capture
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
