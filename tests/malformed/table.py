"""How the table is written: a `Case` is one request and the outcomes it may get; `case()`
makes one pytest parameter of it. Constants the rows share."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import PASSWORD

LIMIT = 64 * 1024  # the default body limit of the contract's server
JSON = "application/json"


def raw(data: bytes) -> str:
    """Bytes as a header value: sent byte for byte (header values go out as latin-1)."""
    return data.decode("latin-1")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64j(value: object) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def jbytes(value: object) -> bytes:
    """JSON as Python writes it (NaN and Infinity included, non-ASCII escaped)."""
    return json.dumps(value).encode()


def expect(*statuses: int) -> frozenset[int]:
    return frozenset(statuses)


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    expect: frozenset[int]
    codes: frozenset[str] = frozenset()  # allowed `error` values when it fails; empty: any
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    stream: bool = False  # send the body chunked, without a Content-Length
    spends_own: bool = False  # the case may legitimately use up the own refresh token
    clears_cookie: bool = False  # a failure must clear the tessera_refresh cookie


def case(
    case_id: str,
    method: str,
    path: str,
    statuses: Iterable[int],
    *,
    codes: Iterable[str] = (),
    body: bytes | None = None,
    content_type: str | None = JSON,
    headers: Iterable[tuple[str, str]] = (),
    stream: bool = False,
    spends_own: bool = False,
    clears_cookie: bool = False,
) -> Any:
    all_headers = list(headers)
    if body is not None and content_type is not None:
        all_headers.insert(0, ("content-type", content_type))
    return pytest.param(
        Case(
            method=method,
            path=path,
            expect=frozenset(statuses),
            codes=frozenset(codes),
            body=body,
            headers=tuple(all_headers),
            stream=stream,
            spends_own=spends_own,
            clears_cookie=clears_cookie,
        ),
        id=case_id,
    )


LOGIN, REFRESH, LOGOUT = "/auth/login", "/auth/refresh", "/auth/logout"
BAD_REQUEST = ("invalid_request",)
BAD_TOKEN = ("invalid_token",)
BAD_GRANT = ("invalid_grant",)
CSRF = ("csrf_failed",)
WRONG_CREDENTIALS = ("invalid_credentials",)
CSRF_OK = ("x-tessera-csrf", "1")


def login(**fields: object) -> bytes:
    """A login body."""
    return jbytes(fields)


WRONG = "not the password"
VALID_LOGIN = login(username="alice", password=PASSWORD)
