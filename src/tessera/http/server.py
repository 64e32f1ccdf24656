"""Running the standalone app under uvicorn on a socket we bind ourselves (so port 0 works and
the printed URL is the real one)."""

from __future__ import annotations

import gc
import logging
import resource
import socket
from contextlib import suppress

import uvicorn
from starlette.types import ASGIApp

from tessera.http.accept_errors import quiet_accept_errors
from tessera.http.app import create_app
from tessera.http.head_limit import head_limited
from tessera.http.mount import Tessera


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: without it, a response written as headers + body
    # waits for the client's delayed ACK (~40 ms per request).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def raise_fd_limit() -> None:
    """Lift the soft open-file limit to the hard one (often 1024 against far more): every
    connection is a descriptor, and running out stops the server accepting. The revocation
    feed's long-polls then take at most a quarter of it (`tessera.revocations.waiters`)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == resource.RLIM_INFINITY or soft >= hard:
        return
    with suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class Server(uvicorn.Server):
    """uvicorn, answering the revocation feed's waiting long-polls as shutdown begins (it
    waits for every open request before the app's own shutdown runs), keeping start-up's
    objects out of the garbage collector's full passes, and reporting failed accepts once in
    a while rather than each one (`accept_errors`)."""

    def __init__(self, config: uvicorn.Config, auth: Tessera) -> None:
        super().__init__(config)
        self.auth = auth

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        quiet_accept_errors()
        await super().startup(sockets)
        # The imported modules, the app and its routes live as long as the process; a full
        # collection walked all of them (about 100 ms here, a pause every request in flight
        # waits out: the refresh p99 under load). Frozen, they are never walked again.
        gc.collect()
        gc.freeze()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.auth.revocations.drain()
        await super().shutdown(sockets)


def build_server(
    auth: Tessera,
    *,
    app: ASGIApp | None = None,
    log_level: str = "info",
    access_log: bool = True,
) -> uvicorn.Server:
    """uvicorn for `app` (default: the standalone app of `auth`), on httptools with caps on
    each connection's request framing, time and queue (`head_limit`). Logging is
    `tessera.logs`'s job (Tessera writes its own access log, with request ids), not uvicorn's."""
    logging.getLogger("tessera.access").disabled = not access_log
    config = uvicorn.Config(
        app or create_app(auth),
        log_level=log_level,
        log_config=None,
        access_log=False,
        lifespan="on",
        server_header=False,
        proxy_headers=auth.settings.trust_forwarded,
        http=head_limited(auth.settings.max_header_bytes, auth.settings.request_timeout),
    )
    return Server(config, auth)
