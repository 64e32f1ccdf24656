"""A cap on the request line and headers, in size and in time, kept inside uvicorn's fast
parser (httptools).

uvicorn's httptools protocol buffers a request head of any size: one connection sending a
256 MiB header grew the server by hundreds of megabytes. This subclass counts a head's bytes
as they arrive and, past the cap, answers 431 in the contract's JSON shape and closes the
connection without reading the rest. Two counts, both cheap:

- while a head is incomplete, the raw bytes read since it began (a huge URL, one huge header
  line, many small ones, or a slow drip alike); where a head begins in the middle of a read
  (after a pipelined request), that first read goes uncounted, so the memory held is at
  most the cap plus two reads (uvloop reads up to 256 KiB at a time);
- when a head completes, its exact size (URL and headers), measured only if the reads it
  came in could hold more than the cap: ordinary heads arrive in small reads and skip it.

uvicorn also sets no timer on a connection until it has answered a request: one that sends
nothing, or drips its head a byte at a time, holds its file descriptor forever. Here a head
must be complete within `head_timeout` seconds of the connection opening (or of its first
byte, for the next request on a kept-alive one); past that the connection gets 408, or is
simply closed if it sent nothing.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

HEADERS_TOO_LARGE = 431
REQUEST_TIMEOUT = 408
LINE_OVERHEAD = 4  # ": " and CRLF around each header


class HeadTooLarge(Exception):
    """Raised from a parser callback to stop httptools at once."""


class HeadLimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing request heads over `max_head_bytes` or slower
    than `head_timeout` seconds."""

    max_head_bytes = 16 * 1024
    head_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_open = False  # inside a request line or headers
        self._idle = True  # between messages: the next byte begins a request
        self._starts_message = False  # the read being parsed began while idle
        self._read_size = 0  # bytes in the read being parsed
        self._head_fed = 0  # raw bytes of the open head counted so far
        self._head_partial = False  # the open head began mid-read: its first read uncounted
        self._refused = False
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def _start_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_open:
            description = f"the request line and headers took over {self.head_timeout:g} s"
            self._refuse(REQUEST_TIMEOUT, "request_timeout", description)
        else:
            self.transport.close()  # nothing sent: nothing to answer

    def data_received(self, data: bytes) -> None:
        if self._head_open:
            self._head_fed += len(data)  # the whole read continues the open head
        self._read_size, self._starts_message = len(data), self._idle
        super().data_received(data)
        over = self._head_open and self._head_fed > self.max_head_bytes
        if over and not self.transport.is_closing():  # closing: uvicorn answered a bad head
            self._refuse_too_large()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_head_timer()  # the next request on a kept-alive connection
        self._head_open, self._idle = True, False
        # A head that begins a read owns all of it so far; one that begins after another
        # message in the same read cannot tell its share, and starts from zero.
        self._head_partial = not self._starts_message
        self._head_fed = 0 if self._head_partial else self._read_size
        self._starts_message = False

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._stop_head_timer()
        # Measure the head only when the reads it came in could hold more than the cap.
        could_exceed = self._head_partial or self._head_fed + self._read_size > self.max_head_bytes
        if could_exceed and self._head_size() > self.max_head_bytes:
            self._refuse_too_large()
            raise HeadTooLarge  # no request starts; uvicorn's parser-error path follows
        super().on_headers_complete()

    def _head_size(self) -> int:
        return len(self.url) + sum(len(n) + len(v) + LINE_OVERHEAD for n, v in self.headers)

    def on_message_complete(self) -> None:
        self._idle = True
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        if not self._refused:  # our own stop already answered
            super().send_400_response(msg)

    def _refuse_too_large(self) -> None:
        description = f"the request line and headers exceed {self.max_head_bytes} bytes"
        self._refuse(HEADERS_TOO_LARGE, "headers_too_large", description)

    def _refuse(self, status: int, code: str, description: str) -> None:
        """Answer `status` and close; the transport stops reading, so the rest is never read."""
        self._refused = True
        self._stop_head_timer()
        body = json.dumps({"error": code, "error_description": description}).encode()
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"cache-control: no-store\r\n",
            b"x-content-type-options: nosniff\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def head_limited(max_head_bytes: int, head_timeout: float) -> type[HeadLimitedProtocol]:
    """The protocol class uvicorn builds per connection, with these limits."""
    limits = {"max_head_bytes": max_head_bytes, "head_timeout": head_timeout}
    return type("HeadLimitedProtocol", (HeadLimitedProtocol,), limits)
