"""The Python client's reliance on httpx's private internals (`tessera/client/httpx_compat.py`),
checked against the installed httpx. A failure here means httpx changed: the message names the
version and what moved, and the client meanwhile hands such a request's 401 back instead of
replaying its body."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import pytest

from tessera.client.httpx_compat import rewinder

URL = "https://api.example/upload"


def changed(what: str) -> str:
    return (
        f"httpx {httpx.__version__} changed {what}; adapt src/tessera/client/httpx_compat.py to it"
    )


def sent(request: httpx.Request) -> bytes:
    return b"".join(request.stream)  # type: ignore[arg-type]  # a sync stream here


def test_bytes_are_a_public_byte_stream() -> None:
    request = httpx.Request("POST", URL, content=b"x" * 100)
    assert isinstance(request.stream, httpx.ByteStream), changed(
        f"the stream of a bytes body (now {type(request.stream).__qualname__}, "
        "was httpx.ByteStream)"
    )
    rewind = rewinder(request)
    assert rewind is not None
    assert sent(request) == b"x" * 100
    rewind()
    assert sent(request) == b"x" * 100


def test_multipart_stream_is_where_the_client_looks_for_it() -> None:
    try:
        from httpx._multipart import MultipartStream
    except ImportError:
        pytest.fail(changed("where MultipartStream lives (no longer httpx._multipart)"))
    request = httpx.Request("POST", URL, files={"f": ("a.txt", io.BytesIO(b"z" * 300))})
    assert isinstance(request.stream, MultipartStream), changed(
        f"the stream of a multipart body (now {type(request.stream).__qualname__}, "
        "was httpx._multipart.MultipartStream)"
    )
    assert rewinder(request) is not None


def test_a_multipart_body_rewinds_its_files_itself() -> None:
    request = httpx.Request(
        "POST", URL, data={"note": "hi"}, files={"f": ("a.txt", io.BytesIO(b"z" * 300))}
    )
    first = sent(request)
    assert b"z" * 300 in first
    assert sent(request) == first, changed(
        "how a multipart body is sent twice (its files are no longer seeked back to the start)"
    )


def test_a_file_body_is_kept_as_the_streams_private_stream() -> None:
    upload = io.BytesIO(b"0123456789" * 10)
    upload.seek(10)  # a replay starts where the first send started, not at 0
    request = httpx.Request("POST", URL, content=upload)
    assert getattr(request.stream, "_stream", None) is upload, changed(
        "where a request keeps a file given as content= (no longer request.stream._stream)"
    )
    rewind = rewinder(request)
    assert rewind is not None
    first = sent(request)
    assert first == b"0123456789" * 9
    rewind()
    assert sent(request) == first


def test_a_generator_or_an_unseekable_file_is_never_replayed() -> None:
    def chunks() -> Iterator[bytes]:
        yield b"a"

    class Pipe(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
            return 0

    assert rewinder(httpx.Request("POST", URL, content=chunks())) is None
    assert rewinder(httpx.Request("POST", URL, content=Pipe())) is None
