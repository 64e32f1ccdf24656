"""The HTTP server's floor: uvicorn as `tessera serve` runs it (httptools, Tessera's limits on
each connection, its listening socket, start-up objects frozen), in front of an ASGI app that
does nothing but what any refresh must: read the JSON body, and answer a token answer's bytes
(an access token of an RS256 token's length, the refresh token sent back) with the headers
Tessera's answer carries. No framework, no database, no signature, no log line.

What a request costs here is what uvicorn, asyncio and the kernel take of every request,
whatever the app: `bench.stack_floor` measures it under the refresh phase's load.

    python -m bench.peers.bare_app PORT    # prints "Tessera listening on URL" once it is
"""

from __future__ import annotations

import asyncio
import gc
import json
import secrets
import sys

import uvicorn
from starlette.types import Message, Receive, Scope, Send

from tessera.http.head_limit import head_limited
from tessera.http.server import bind_socket, url_of

ACCESS_TOKEN = "e" * 700  # an RS256 access token with Tessera's claims: ~700 characters
HEADERS = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


async def read_body(receive: Receive) -> bytes:
    body, more = b"", True
    while more:
        message: Message = await receive()
        if message["type"] != "http.request":
            return b""
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    body = await read_body(receive)
    refresh_token = json.loads(body).get("refresh_token", "") if body else ""
    answer = json.dumps(
        {
            "access_token": ACCESS_TOKEN,
            "token_type": "Bearer",
            "expires_in": 900,
            "expires_at": 1_800_000_000,
            "session_id": "s" * 22,
            "refresh_token": refresh_token,
            "refresh_expires_at": 1_800_000_000,
        },
        separators=(",", ":"),
    ).encode()
    headers = [
        *HEADERS,
        (b"content-length", b"%d" % len(answer)),
        (b"x-request-id", secrets.token_hex(8).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


def main(port: int) -> None:
    sock = bind_socket("127.0.0.1", port)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        server_header=False,
        http=head_limited(),
    )
    server = uvicorn.Server(config)

    async def serve() -> None:
        print(f"Tessera listening on {url_of(sock)}", flush=True)
        gc.collect()
        gc.freeze()
        await server.serve(sockets=[sock])

    try:
        asyncio.run(serve())
    finally:
        sock.close()


if __name__ == "__main__":
    main(int(sys.argv[1]))
