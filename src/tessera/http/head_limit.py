"""Limits on what one connection can make the server hold, kept inside uvicorn's fast parser
(httptools): the size of a request's framing, the time a request takes to arrive, and the
number of requests queued behind the one being answered. uvicorn's httptools protocol has
none of them: one connection's 256 MiB header, or an endless stream of chunked trailers, grew
the server by hundreds of megabytes; a stalled body held its descriptor forever; streaming
pipelined requests without reading the answers queued them by the million.

- Size: the request line and headers, and a chunked body's framing (each chunk-size line;
  the last one with its trailers), are capped at `max_head_bytes`: 431 in the contract's JSON
  shape, and the rest is never read. Two counts, both cheap: while such a part is incomplete,
  the raw bytes read since it began (a part that begins mid-read owns none of that read, so
  what is held is at most the cap plus two reads; asyncio reads up to 256 KiB at a time); and
  exactly, a head's size when it completes (only where its reads could hold more than the
  cap) and the trailer fields as they come. Trailers are dropped, never kept: uvicorn would
  append them to the headers the app already has.
- Time: a request's line, headers and body, trailers included, must arrive within
  `request_timeout` seconds of its first byte, or of the connection opening for the first
  (uvicorn sets no timer before its first answer, and any byte stops its keep-alive timer);
  then 408, or a plain close if its answer has begun or nothing was asked.
- Queue: at most `max_queued` requests wait behind the one being answered; at the next, the
  parser stops (in the callback, so one read cannot queue thousands), those are answered and
  the connection is closed.
- Order: nothing of ours goes ahead of the answer to an earlier request. A request's deadline
  starts once the answers before it are sent, and a refusal (431, or 400 for bytes that are
  not HTTP) stops reading and waits for them.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

BAD_REQUEST = 400
REQUEST_TIMEOUT = 408
HEADERS_TOO_LARGE = 431
LINE_OVERHEAD = 4  # ": " and CRLF around each header


class StopParsing(Exception):
    """Raised from a parser callback to stop httptools at once."""


class HeadLimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with caps on request framing, time and queue."""

    max_head_bytes = 16 * 1024
    request_timeout = 10.0
    max_queued = 16

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        self._in_message = False  # between a request's first byte and its last
        self._ahead: RequestResponseCycle | None = None  # the last request received in full
        self._own: RequestResponseCycle | None = None  # the one arriving, once its head is in
        self._counting = False  # inside a head, or a chunked body's framing
        self._in_head = False  # in the request line and headers (not trailers)
        self._fed = 0  # raw bytes of the counted part so far
        self._trailers = 0  # trailer bytes, exactly
        self._partial = False  # the head began mid-read: its first read uncounted
        self._read_size = 0  # bytes in the read being parsed
        self._starts_message = False  # the read being parsed began between requests
        self._stopped = False  # reads nothing more; answers and closes when its turn comes
        self._answer: bytes | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._stopped:
            self.flow.pause_reading()  # an answer ahead resumed it: the rest stays unread
            return
        if self._timer is None and not self._busy():
            self._start_timer()  # a request's first byte, or a blank line before one
        if self._counting:
            self._fed += len(data)  # the whole read continues the counted part
        self._read_size, self._starts_message = len(data), not self._in_message
        super().data_received(data)
        over = self._counting and self._fed > self.max_head_bytes
        if over and not self._stopped and not self.transport.is_closing():
            self._refuse_too_large()

    # Parser callbacks ---------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if len(self.pipeline) >= self.max_queued:
            self._stop(None)  # answer those waiting, then close
            raise StopParsing
        super().on_message_begin()
        if self._timer is None and not self._busy():
            self._start_timer()  # begun in the read that ended a request already answered
        self._in_message, self._own = True, None
        self._counting, self._in_head = True, True
        # A head that begins a read owns all of it so far; one that begins after another
        # message in the same read cannot tell its share, and starts from zero.
        self._partial = not self._starts_message
        self._fed = 0 if self._partial else self._read_size
        self._starts_message = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._in_head:
            super().on_header(name, value)
            return
        self._trailers += len(name) + len(value) + LINE_OVERHEAD  # a trailer: counted, dropped
        if self._trailers > self.max_head_bytes:
            self._refuse_too_large()
            raise StopParsing

    def on_headers_complete(self) -> None:
        # Measure the head only when the reads it came in could hold more than the cap.
        could_exceed = self._partial or self._fed + self._read_size > self.max_head_bytes
        if could_exceed and self._head_size() > self.max_head_bytes:
            self._refuse_too_large()
            raise StopParsing  # no request starts
        self._in_head = False
        before = self.cycle
        super().on_headers_complete()
        if self.cycle is not before:
            self._own = self.cycle
        self._fed = self._trailers = 0  # a chunked body's first size line, if any

    def _head_size(self) -> int:
        return len(self.url) + sum(len(n) + len(v) + LINE_OVERHEAD for n, v in self.headers)

    def on_body(self, body: bytes) -> None:
        self._counting = False  # data, not framing: the app's body limit applies
        super().on_body(body)

    def on_chunk_complete(self) -> None:
        self._counting, self._fed = True, 0  # the next size line (the last: and trailers)

    def on_message_complete(self) -> None:
        self._in_message = self._counting = False
        self._stop_timer()
        self._ahead, self._own = self.cycle, None
        super().on_message_complete()

    # Answers ------------------------------------------------------------------------------

    def on_response_complete(self) -> None:
        super().on_response_complete()  # starts the next queued request and resumes reading
        if self.transport.is_closing():
            return
        if self._stopped:
            if self._busy():
                self.flow.pause_reading()
            else:
                self._finish()
        elif self._timer is None and self._in_message and not self._busy():
            self._start_timer()  # the request arriving was waiting for this answer

    def send_400_response(self, msg: str) -> None:
        if not self._stopped:  # else: our own stop, raised into the parser
            self._stop(self._refusal(BAD_REQUEST, "invalid_request", msg))

    def _busy(self) -> bool:
        """An earlier request's answer is still being sent, or waits its turn."""
        return self._ahead is not None and not self._ahead.response_complete

    def _start_timer(self) -> None:
        self._timer = self.loop.call_later(self.request_timeout, self._timed_out)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self._stopped or self.transport.is_closing():
            return
        if not self._in_message:
            self._stop(None)  # nothing asked (blank lines at most): nothing to answer
            return
        description = f"the request took over {self.request_timeout:g} s to arrive"
        self._stop(self._refusal(REQUEST_TIMEOUT, "request_timeout", description))

    def _refuse_too_large(self) -> None:
        what = "the request line and headers" if self._in_head else "a chunk-size line or trailers"
        description = f"{what} exceed {self.max_head_bytes} bytes"
        self._stop(self._refusal(HEADERS_TOO_LARGE, "headers_too_large", description))

    def _stop(self, answer: bytes | None) -> None:
        """Read nothing more; once the answers to earlier requests are sent, send `answer`
        (unless this request's own answer has begun) and close."""
        self._stopped = True
        self._stop_timer()
        own = self._own
        if own is not None:
            if own.response_started:
                answer = None
            if self.pipeline and self.pipeline[0][0] is own:
                self.pipeline.popleft()  # queued behind another: it never runs
        self._answer = answer
        if self._busy():
            self.flow.pause_reading()
        else:
            self._finish()

    def _finish(self) -> None:
        own = self._own
        if own is not None and not own.response_complete:
            own.disconnected = True  # its app hears a disconnect, and nothing it sends goes out
            own.message_event.set()
        if self._answer is not None:
            self.transport.write(self._answer)
        self.transport.close()

    def _refusal(self, status: int, code: str, description: str) -> bytes:
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
        return b"".join(head) + body


def head_limited(
    max_head_bytes: int = 16 * 1024, request_timeout: float = 10.0
) -> type[HeadLimitedProtocol]:
    """The protocol class uvicorn builds per connection, with these limits."""
    limits = {"max_head_bytes": max_head_bytes, "request_timeout": request_timeout}
    return type("HeadLimitedProtocol", (HeadLimitedProtocol,), limits)
