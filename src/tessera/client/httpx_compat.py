"""The client's only reliance on httpx's private internals, kept in one place so that one test
(tests/test_httpx_compat.py) checks it against the installed httpx and says what changed.

To retry a request after a 401, the auth flow must know whether its body can be sent again, and
httpx has no public way to ask. Bytes can (`httpx.ByteStream`). A multipart body can: httpx's
private `httpx._multipart.MultipartStream` seeks its files back to the start every time it is
sent. A seekable file given as `content=` can, once seeked back to where it was: httpx keeps it
as the private `_stream` of the request's stream. A generator cannot.

Should httpx move these, bodies of the affected kind are simply not replayed (the 401 is handed
back, and the next request refreshes first) while that test fails.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx


def _replayable_streams() -> tuple[type[object], ...]:
    """The stream types whose every iteration yields the whole body."""
    try:
        from httpx._multipart import MultipartStream
    except ImportError:
        return (httpx.ByteStream,)
    return (httpx.ByteStream, MultipartStream)


REPLAYABLE_STREAMS = _replayable_streams()


def rewinder(request: httpx.Request) -> Callable[[], None] | None:
    """How to send this request's body again, or None when it cannot be replayed."""
    stream = request.stream
    if isinstance(stream, REPLAYABLE_STREAMS):
        return lambda: None  # bytes replay as they are; multipart seeks its files itself
    inner = getattr(stream, "_stream", None)  # a file given as `content=`
    seekable = getattr(inner, "seekable", None)
    if inner is not None and callable(seekable) and seekable():
        position = inner.tell()
        return lambda: inner.seek(position)
    return None
