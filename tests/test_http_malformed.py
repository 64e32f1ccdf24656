"""Malformed input of every kind to every route: always a 4xx in the contract's error shape
`{"error": CODE, "error_description": TEXT}`, never a 5xx, and nothing broken afterwards.

The cases are data: `CASES` is one table of `Case` rows, built from smaller lists (bad
`Authorization` values x the Bearer routes, bodies x the POST routes, cookies, path parameters,
unknown routes and wrong methods, oversized bodies). To cover a new input, add a row.

Request text may hold markers, filled from a live session of alice ("own"): `@ACCESS@`,
`@REFRESH@`, `@SID@`, `@HDR@`/`@PAY@`/`@SIG@` (the three segments of the access token) and a
few forged headers (`@NONE_HDR@`, ...). Header values are sent as their latin-1 bytes, so
`raw(b"...")` writes any byte (non-ASCII, invalid UTF-8) into a header.

Every response must be: < 500; one of the row's statuses; for any error, JSON with `error` and
`error_description` strings, a code that fits the status (and the row's codes), a Bearer
`WWW-Authenticate` with `invalid_token`, no password or refresh token echoed. After every case
the clock moves past the reuse grace window and the own refresh token must still rotate (so a
case that quietly rotated or revoked it fails), unless the row says the case may spend it.
After the table, a session opened before the barrage still refreshes and a fresh login +
refresh + /api/me works (`test_state_after_the_barrage`).

All table cases share one service (module scope, so the table stays fast) whose login limits
are out of the way; each case also comes from its own client IP. The hypothesis fuzzer uses a
service of its own. The default login limits have a test of their own.
"""

from __future__ import annotations

import base64
import gc
import json
import math
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera import ManualClock, Tessera, create_app
from tests.conftest import PASSWORD, START, make_settings

pytestmark = pytest.mark.anyio

LIMIT = 64 * 1024  # the default body limit of the contract's server
JSON = "application/json"
# What each status may say, whatever the route (the contract's codes).
CODES_BY_STATUS: dict[int, frozenset[str]] = {
    400: frozenset({"invalid_request"}),
    401: frozenset({"invalid_token", "invalid_grant", "invalid_credentials"}),
    403: frozenset({"csrf_failed", "insufficient_scope", "forbidden"}),
    404: frozenset({"not_found"}),
    405: frozenset({"method_not_allowed"}),
    411: frozenset({"length_required"}),
    413: frozenset({"request_too_large"}),
    415: frozenset({"unsupported_media_type"}),
    422: frozenset({"invalid_request"}),
    429: frozenset({"rate_limited"}),
}


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


# --------------------------------------------------------------------------------------------
# helpers to write the table


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


# --------------------------------------------------------------------------------------------
# Authorization headers x every route that reads a Bearer token

BAD_AUTHORIZATION: list[tuple[str, str]] = [
    ("empty", ""),
    ("blank", "   "),
    ("no-scheme", "@ACCESS@"),
    ("basic", "Basic YWxpY2U6Y29ycmVjdCBob3JzZQ=="),
    ("digest", 'Digest username="alice", realm="x", nonce="1"'),
    ("token-scheme", "Token @ACCESS@"),
    ("bearer-alone", "Bearer"),
    ("bearer-space", "Bearer "),
    ("bearer-spaces-only", "Bearer      "),
    ("bearer-tab", "Bearer\t@ACCESS@"),
    ("bearer-colon", "Bearer: @ACCESS@"),
    ("bearerx", "BearerX @ACCESS@"),
    ("two-tokens", "Bearer @ACCESS@ @ACCESS@"),
    ("spaces-then-garbage", "Bearer     not-a-token"),
    ("giant-1-segment", "Bearer " + "A" * 100_000),
    ("giant-3-segments", "Bearer " + ".".join(["QUFB" * 800] * 3)),
    ("non-ascii-latin1", raw("Bearer é".encode("latin-1"))),
    ("non-ascii-utf8", raw("Bearer ☃.☃.☃".encode())),
    ("invalid-utf8", raw(b"Bearer \xff\xfe\xfd")),
    ("nul", raw(b"Bearer \x00")),
    ("1-segment", "Bearer abc"),
    ("2-segments", "Bearer @HDR@.@PAY@"),
    ("3-garbage-segments", "Bearer a.b.c"),
    ("3-empty-segments", "Bearer .."),
    ("4-segments", "Bearer @HDR@.@PAY@.@SIG@.@SIG@"),
    ("5-segments", "Bearer @HDR@.@PAY@.@SIG@.@PAY@.@SIG@"),
    ("jwe-like-5-segments", "Bearer " + b64j({"alg": "RSA-OAEP", "enc": "A256GCM"}) + ".a.b.c.d"),
    ("trailing-dot", "Bearer @ACCESS@."),
    ("bad-signature", "Bearer @HDR@.@PAY@.AAAA"),
    ("no-signature", "Bearer @HDR@.@PAY@."),
    ("forged-admin-claims", "Bearer @HDR@.@ADMIN_PAY@.@SIG@"),
    ("alg-none", "Bearer @NONE_HDR@.@PAY@."),
    ("alg-none-with-signature", "Bearer @NONE_HDR@.@PAY@.@SIG@"),
    ("alg-none-no-kid", "Bearer " + b64j({"alg": "none", "typ": "at+jwt"}) + ".@PAY@."),
    ("alg-NONE-uppercase", "Bearer @NONE_UPPER_HDR@.@PAY@."),
    ("alg-hs256-confusion", "Bearer @HS_HDR@.@PAY@.@SIG@"),
    ("header-jku", "Bearer @JKU_HDR@.@PAY@.@SIG@"),
    ("header-duplicate-alg", "Bearer @DUP_HDR@.@PAY@.@SIG@"),
    ("typ-jwt", "Bearer @JWT_TYP_HDR@.@PAY@.@SIG@"),
    ("padded-base64", "Bearer @HDR@==.@PAY@.@SIG@"),
    ("std-base64-chars", "Bearer +/+/.@PAY@.@SIG@"),
    ("header-not-json", "Bearer " + b64(b"not json") + ".@PAY@.@SIG@"),
    ("header-array", "Bearer " + b64j([]) + ".@PAY@.@SIG@"),
    ("header-nan", "Bearer " + b64(b'{"alg":NaN,"kid":"k","typ":"at+jwt"}') + ".@PAY@.@SIG@"),
    ("header-deep", "Bearer " + b64(b"[" * 40 + b"]" * 40) + ".@PAY@.@SIG@"),
    ("header-invalid-utf8", "Bearer " + b64(b'{"alg":"\xff"}') + ".@PAY@.@SIG@"),
    (
        "kid-traversal",
        "Bearer "
        + b64j({"alg": "RS256", "kid": "../../etc/passwd", "typ": "at+jwt"})
        + ".@PAY@.@SIG@",
    ),
    ("kid-number", "Bearer " + b64j({"alg": "RS256", "kid": 1, "typ": "at+jwt"}) + ".@PAY@.@SIG@"),
    ("header-non-ascii", raw("Bearer é.@PAY@.@SIG@".encode("latin-1"))),
    ("payload-non-ascii", raw("Bearer @HDR@.éé.@SIG@".encode("latin-1"))),
    ("payload-utf8", raw("Bearer @HDR@.☃.@SIG@".encode())),
    ("payload-nul", raw(b"Bearer @HDR@.\x00.@SIG@")),
    ("signature-non-ascii", raw("Bearer @HDR@.@PAY@.é".encode("latin-1"))),
]

BEARER_ROUTES: list[tuple[str, str, str]] = [
    ("me", "GET", "/api/me"),
    ("sessions", "GET", "/auth/sessions"),
    ("revoke-all", "DELETE", "/auth/sessions"),
    ("revoke-one", "DELETE", "/auth/sessions/@SID@"),
    ("logout", "POST", LOGOUT),
]

# Unusual but valid spellings: either accepted or refused in the shape, never a crash.
LENIENT_AUTHORIZATION: list[tuple[str, str]] = [
    ("lowercase-scheme", "bearer @ACCESS@"),
    ("uppercase-scheme", "BEARER @ACCESS@"),
    ("extra-spaces", "Bearer    @ACCESS@"),
    ("trailing-space", "Bearer @ACCESS@ "),
]


def authorization_cases() -> Iterator[Any]:
    for route_id, method, path in BEARER_ROUTES:
        for auth_id, value in BAD_AUTHORIZATION:
            yield case(
                f"authorization-{auth_id}-{route_id}",
                method,
                path,
                [401],
                codes=BAD_TOKEN,
                headers=[("authorization", value)],
            )
    for auth_id, value in LENIENT_AUTHORIZATION:
        yield case(
            f"authorization-{auth_id}-me",
            "GET",
            "/api/me",
            [200, 401],
            codes=BAD_TOKEN,
            headers=[("authorization", value)],
        )
    for route_id, method, path in BEARER_ROUTES[:4]:
        yield case(f"authorization-missing-{route_id}", method, path, [401], codes=BAD_TOKEN)
    yield case(
        "authorization-twice-garbage-first",
        "GET",
        "/api/me",
        [200, 400, 401],
        headers=[("authorization", "Bearer garbage"), ("authorization", "Bearer @ACCESS@")],
    )
    yield case(
        "authorization-garbage-accept-html",
        "GET",
        "/api/me",
        [401],
        codes=BAD_TOKEN,
        headers=[("authorization", "Bearer x"), ("accept", "text/html")],
    )


# --------------------------------------------------------------------------------------------
# Bodies x the POST routes

# Whole-body errors, the same on every POST route unless overridden: (id, body, content type,
# {route: statuses}). Default: 400 invalid_request.
ROUTES_WITH_BODY = {"login": LOGIN, "refresh": REFRESH, "logout": LOGOUT}
NO_BODY_OUTCOME = {"login": expect(400), "refresh": expect(401), "logout": expect(204)}

GENERIC_BODIES: list[tuple[str, bytes, str | None, dict[str, frozenset[int]]]] = [
    ("not-json", b"not json", JSON, {}),
    ("truncated", b'{"username": "alice"', JSON, {}),
    ("single-quotes", b"{'username': 'alice'}", JSON, {}),
    ("trailing-garbage", b'{"refresh_token": "x"} x', JSON, {}),
    ("two-documents", b"{}{}", JSON, {}),
    ("js-comment", b'{"username": "alice" /* hi */}', JSON, {}),
    ("whitespace-only", b" \t\r\n ", JSON, {}),
    ("binary", b"\x00\x01\x02\xff\xfe", JSON, {}),
    ("empty", b"", JSON, NO_BODY_OUTCOME),
    ("array-empty", b"[]", JSON, {}),
    ("array-of-object", b'[{"username": "alice", "refresh_token": "x"}]', JSON, {}),
    ("string", b'"alice"', JSON, {}),
    ("number", b"42", JSON, {}),
    ("float-overflow", b"1e400", JSON, {}),
    ("negative", b"-1", JSON, {}),
    ("true", b"true", JSON, {}),
    ("null", b"null", JSON, NO_BODY_OUTCOME),
    ("nan", b"NaN", JSON, {}),
    ("infinity", b"Infinity", JSON, {}),
    ("minus-infinity", b"-Infinity", JSON, {}),
    ("big-integer", b"9" * 5000, JSON, {}),
    ("invalid-utf8", b'{"username": "\xff\xfe", "refresh_token": "\xff"}', JSON, {}),
    ("overlong-utf8", b'{"username": "\xc0\xaf", "refresh_token": "\xc0\xaf"}', JSON, {}),
    ("raw-surrogate-utf8", b'{"refresh_token": "\xed\xa0\x80"}', JSON, {}),
    ("latin1-encoded", '{"username": "é"}'.encode("latin-1"), JSON, {}),
    ("utf16-empty-object", "{}".encode("utf-16"), JSON, {"logout": expect(204, 400)}),
    ("utf32-array", "[]".encode("utf-32"), JSON, {}),
    ("deep-array", b"[" * 60_000, JSON, {}),
    ("deep-array-closed", b"[" * 30_000 + b"]" * 30_000, JSON, {}),
    ("deep-object", b'{"a":' * 12_000, JSON, {}),
    ("deep-object-closed", b'{"a":' * 6_000 + b"1" + b"}" * 6_000, JSON, {}),
    ("object-key-not-string", b'{1: "x"}', JSON, {}),
    ("text-plain", b'{"username": "a", "password": "b"}', "text/plain", {}),
    (
        "form-encoded",
        b"username=alice&password=x&refresh_token=x",
        "application/x-www-form-urlencoded",
        {},
    ),
    ("xml", b"<login><username>alice</username></login>", "application/xml", {}),
    ("octet-stream", b"\x00" * 64, "application/octet-stream", {}),
    ("content-type-garbage", b"{}", ";;;=", {}),
    ("content-type-empty", b'"x"', "", {}),
    ("content-type-non-ascii", b'"x"', raw("application/jsön".encode()), {}),
    ("content-type-huge", b'"x"', "application/json; x=" + "a" * 10_000, {}),
]


def multipart_body() -> tuple[bytes, str]:
    boundary = "xXxTESSERAxXx"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="username"\r\n\r\nalice\r\n',
        f'--{boundary}\r\nContent-Disposition: form-data; name="refresh_token"\r\n\r\nx\r\n',
        f"--{boundary}--\r\n",
    ]
    return "".join(parts).encode(), f"multipart/form-data; boundary={boundary}"


def generic_body_cases() -> Iterator[Any]:
    bodies = list(GENERIC_BODIES)
    multipart, multipart_type = multipart_body()
    bodies.append(("multipart", multipart, multipart_type, {}))
    for body_id, body, content_type, overrides in bodies:
        for route_id, path in ROUTES_WITH_BODY.items():
            statuses = overrides.get(route_id, expect(400, 415))
            yield case(
                f"body-{body_id}-{route_id}",
                "POST",
                path,
                statuses,
                body=body,
                content_type=content_type,
            )


def login(**fields: object) -> bytes:
    return jbytes(fields)


WRONG = "not the password"
# (id, body, statuses); other content types in `content_type_cases`.
LOGIN_BODIES: list[tuple[str, bytes, frozenset[int]]] = [
    ("empty-object", login(), expect(400)),
    ("username-only", login(username="alice"), expect(400)),
    ("password-only", login(password=PASSWORD), expect(400)),
    ("transport-only", login(transport="body"), expect(400)),
    ("username-int", login(username=123, password=WRONG), expect(400)),
    ("username-null", login(username=None, password=WRONG), expect(400)),
    ("username-bool", login(username=True, password=WRONG), expect(400)),
    ("username-list", login(username=["alice"], password=PASSWORD), expect(400)),
    ("username-object", login(username={"$ne": ""}, password=PASSWORD), expect(400)),
    ("username-float", login(username=1.5, password=WRONG), expect(400)),
    ("password-int", login(username="alice", password=123), expect(400)),
    ("password-null", login(username="alice", password=None), expect(400)),
    ("password-list", login(username="alice", password=[PASSWORD]), expect(400)),
    ("password-object", login(username="alice", password={"$gt": ""}), expect(400)),
    ("password-bool", login(username="alice", password=True), expect(400)),
    ("username-empty", login(username="", password=WRONG), expect(400)),
    ("password-empty", login(username="alice", password=""), expect(400)),
    ("transport-int", login(username="alice", password=WRONG, transport=1), expect(400)),
    ("transport-null", login(username="alice", password=WRONG, transport=None), expect(400)),
    ("transport-empty", login(username="alice", password=WRONG, transport=""), expect(400)),
    ("transport-unknown", login(username="alice", password=WRONG, transport="header"), expect(400)),
    ("transport-upper", login(username="alice", password=WRONG, transport="BODY"), expect(400)),
    ("transport-list", login(username="alice", password=WRONG, transport=["body"]), expect(400)),
    ("username-151", login(username="a" * 151, password=WRONG), expect(400)),
    ("username-huge", login(username="a" * 60_000, password=WRONG), expect(400)),
    ("password-1025", login(username="alice", password="p" * 1025), expect(400)),
    ("password-1024", login(username="nobody", password="p" * 1024), expect(401)),
    ("password-huge", login(username="alice", password="p" * 60_000), expect(400)),
    ("username-nan", login(username=math.nan, password=WRONG), expect(400)),
    ("password-infinity", login(username="alice", password=math.inf), expect(400)),
    ("transport-nan", login(username="alice", password=WRONG, transport=-math.inf), expect(400)),
    ("username-nul", login(username="\x00", password=WRONG), expect(400, 401)),
    ("username-inner-nul", login(username="al\x00ice", password=PASSWORD), expect(400, 401)),
    ("username-trailing-nul", login(username="alice\x00", password=PASSWORD), expect(400, 401)),
    ("password-trailing-nul", login(username="alice", password=PASSWORD + "\x00"), expect(401)),
    ("password-truncated-at-nul", login(username="alice", password="\x00" + PASSWORD), expect(401)),
    ("username-rtl-override", login(username="\u202eecila", password=PASSWORD), expect(400, 401)),
    ("username-bom", login(username="\ufeffalice", password=PASSWORD), expect(400, 401)),
    ("username-zero-width", login(username="ali\u200bce", password=PASSWORD), expect(400, 401)),
    (
        "username-fullwidth",
        login(username="\uff41\uff4c\uff49\uff43\uff45", password=WRONG),
        expect(400, 401),
    ),
    ("username-combining", login(username="alic\u0065\u0301", password=WRONG), expect(400, 401)),
    ("username-emoji", login(username="😀", password=WRONG), expect(400, 401)),
    ("username-noncharacter", login(username="\uffff\ufffe", password=WRONG), expect(400, 401)),
    ("username-lone-high-surrogate", login(username="\ud800", password=WRONG), expect(400)),
    ("username-lone-low-surrogate", login(username="a\udc00", password=WRONG), expect(400)),
    ("username-reversed-pair", login(username="\udc00\ud800", password=WRONG), expect(400)),
    ("password-lone-surrogate", login(username="alice", password="\ud800"), expect(400)),
    ("password-rtl", login(username="alice", password="\u202e" + PASSWORD), expect(401)),
    ("username-sql", login(username="alice' OR '1'='1", password=WRONG), expect(400, 401)),
    ("username-like-wildcards", login(username="ali%", password=PASSWORD), expect(400, 401)),
    ("username-newline", login(username="alice\nroot", password=PASSWORD), expect(400, 401)),
    ("username-padded", login(username=" alice ", password=WRONG), expect(400, 401)),
    ("username-case", login(username="ALICE", password=WRONG), expect(400, 401)),
    (
        "duplicate-username",
        b'{"username": "root", "username": "alice", "password": "%s"}' % PASSWORD.encode(),
        expect(200, 400),
    ),
    (
        "duplicate-password",
        b'{"username": "alice", "password": "x", "password": "%s"}' % PASSWORD.encode(),
        expect(200, 400),
    ),
    (
        "duplicate-wrong",
        b'{"username": "alice", "password": "a", "password": "b"}',
        expect(400, 401),
    ),
    (
        "bom-prefixed",
        b"\xef\xbb\xbf" + login(username="alice", password=PASSWORD),
        expect(200, 400),
    ),
    (
        "deep-extra-field",
        b'{"username": "alice", "password": "x", "x": ' + b"[" * 900 + b"]" * 900 + b"}",
        expect(400, 401),
    ),
    (
        "deeper-extra-field",
        b'{"username": "alice", "password": "x", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        expect(400, 401),
    ),
    ("many-keys", jbytes({f"k{i}": i for i in range(3000)}), expect(400)),
]


def login_body_cases() -> Iterator[Any]:
    for body_id, body, statuses in LOGIN_BODIES:
        yield case(f"login-{body_id}", "POST", LOGIN, statuses, body=body)


REFRESH_BODIES: list[tuple[str, bytes, frozenset[int], bool]] = [
    # (id, body, statuses, spends_own)
    ("empty-object", jbytes({}), expect(400), False),
    ("token-int", jbytes({"refresh_token": 1}), expect(400), False),
    ("token-null", jbytes({"refresh_token": None}), expect(400, 401), False),
    ("token-bool", jbytes({"refresh_token": False}), expect(400), False),
    ("token-list", b'{"refresh_token": ["@REFRESH@"]}', expect(400), False),
    ("token-object", b'{"refresh_token": {"token": "@REFRESH@"}}', expect(400), False),
    ("token-empty", jbytes({"refresh_token": ""}), expect(400, 401), False),
    ("token-nan", b'{"refresh_token": NaN}', expect(400), False),
    ("token-infinity", b'{"refresh_token": Infinity}', expect(400), False),
    ("token-huge", jbytes({"refresh_token": "t" * 60_000}), expect(400, 401), False),
    ("token-513", jbytes({"refresh_token": "t" * 513}), expect(400, 401), False),
    ("token-garbage", jbytes({"refresh_token": "garbage"}), expect(401), False),
    (
        "token-well-formed-unknown",
        jbytes({"refresh_token": "tsr1_" + "A" * 43}),
        expect(401),
        False,
    ),
    ("token-suffixed", b'{"refresh_token": "@REFRESH@x"}', expect(401), False),
    ("token-truncated", b'{"refresh_token": "@REFRESH_CUT@"}', expect(401), False),
    ("token-space-padded", b'{"refresh_token": " @REFRESH@ "}', expect(400, 401), False),
    ("token-nul-suffixed", b'{"refresh_token": "@REFRESH@\\u0000"}', expect(400, 401), False),
    ("token-swapcase", b'{"refresh_token": "@REFRESH_SWAP@"}', expect(401), False),
    ("token-lone-surrogate", b'{"refresh_token": "\\ud800"}', expect(400), False),
    ("token-rtl", b'{"refresh_token": "\\u202e@REFRESH@"}', expect(400, 401), False),
    ("token-emoji", jbytes({"refresh_token": "tsr1_" + "😀" * 43}), expect(400, 401), False),
    (
        "token-nested-deep",
        b'{"refresh_token": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        expect(400),
        False,
    ),
    (
        "duplicate-own-then-garbage",
        b'{"refresh_token": "@REFRESH@", "refresh_token": "garbage"}',
        expect(400, 401),
        False,
    ),
    (
        "duplicate-garbage-then-own",
        b'{"refresh_token": "garbage", "refresh_token": "@REFRESH@"}',
        expect(200, 400),
        True,
    ),
    (
        "extra-fields",
        b'{"refresh_token": "garbage", "grant_type": "password", "username": "root"}',
        expect(400, 401),
        False,
    ),
]


def refresh_body_cases() -> Iterator[Any]:
    for body_id, body, statuses, spends_own in REFRESH_BODIES:
        yield case(
            f"refresh-{body_id}",
            "POST",
            REFRESH,
            statuses,
            codes=("invalid_request", "invalid_grant"),
            body=body,
            spends_own=spends_own,
        )


LOGOUT_BODIES: list[tuple[str, bytes, frozenset[int]]] = [
    ("token-int", jbytes({"refresh_token": 1}), expect(400)),
    ("token-list", b'{"refresh_token": ["@REFRESH@"]}', expect(400)),
    ("token-object", jbytes({"refresh_token": {}}), expect(400)),
    ("token-nan", b'{"refresh_token": NaN}', expect(400)),
    ("token-huge", jbytes({"refresh_token": "t" * 60_000}), expect(204, 400)),
    ("token-garbage", jbytes({"refresh_token": "garbage"}), expect(204, 400)),
    ("token-suffixed", b'{"refresh_token": "@REFRESH@x"}', expect(204, 400)),
    ("token-truncated", b'{"refresh_token": "@REFRESH_CUT@"}', expect(204, 400)),
    ("token-swapcase", b'{"refresh_token": "@REFRESH_SWAP@"}', expect(204, 400)),
    ("token-lone-surrogate", b'{"refresh_token": "\\udfff"}', expect(204, 400)),
    ("token-nul", b'{"refresh_token": "\\u0000"}', expect(204, 400)),
    ("token-empty", jbytes({"refresh_token": ""}), expect(204, 400)),
    ("token-null", jbytes({"refresh_token": None}), expect(204, 400)),
]


def logout_body_cases() -> Iterator[Any]:
    for body_id, body, statuses in LOGOUT_BODIES:
        yield case(f"logout-{body_id}", "POST", LOGOUT, statuses, body=body)


# Valid JSON under other content types (or none).
VALID_LOGIN = login(username="alice", password=PASSWORD)
CONTENT_TYPES: list[tuple[str, str | None, frozenset[int]]] = [
    ("none", None, expect(200, 400, 415)),
    ("text-plain", "text/plain", expect(400, 415)),
    ("text-json", "text/json", expect(400, 415)),
    ("form", "application/x-www-form-urlencoded", expect(400, 415)),
    ("multipart-no-boundary", "multipart/form-data", expect(400, 415)),
    ("json-charset-utf16", "application/json; charset=utf-16", expect(200, 400, 415)),
    ("json-uppercase", "APPLICATION/JSON", expect(200, 400, 415)),
    ("vendor-json", "application/vnd.api+json", expect(200, 400, 415)),
    ("json-bogus-params", "application/json; ;;; =", expect(200, 400, 415)),
]


def content_type_cases() -> Iterator[Any]:
    for ct_id, content_type, statuses in CONTENT_TYPES:
        yield case(
            f"login-content-type-{ct_id}",
            "POST",
            LOGIN,
            statuses,
            body=VALID_LOGIN,
            content_type=content_type,
        )
        if 200 not in statuses:
            yield case(
                f"refresh-content-type-{ct_id}",
                "POST",
                REFRESH,
                statuses,
                body=b'{"refresh_token": "@REFRESH@"}',
                content_type=content_type,
            )
    yield case(
        "login-form-fields",
        "POST",
        LOGIN,
        [400, 415],
        body=b"username=alice&password=" + PASSWORD.replace(" ", "+").encode(),
        content_type="application/x-www-form-urlencoded",
    )


# --------------------------------------------------------------------------------------------
# Bodies over the limit, and lying lengths

BIG = b'{"username": "' + b"a" * LIMIT + b'", "password": "x"}'


def size_cases() -> Iterator[Any]:
    for route_id, path in ROUTES_WITH_BODY.items():
        yield case(f"size-over-limit-{route_id}", "POST", path, [413], body=BIG)
        yield case(
            f"size-over-limit-chunked-{route_id}", "POST", path, [413], body=BIG, stream=True
        )
        yield case(f"size-1-over-limit-{route_id}", "POST", path, [413], body=b" " * (LIMIT + 1))
        yield case(f"size-at-limit-{route_id}", "POST", path, [400], body=b" " * LIMIT)
        yield case(
            f"size-huge-not-json-{route_id}",
            "POST",
            path,
            [413],
            body=b"\xff" * (4 * LIMIT),
            content_type="text/plain",
        )
        for cl_id, value in [("letters", "abc"), ("negative", "-1"), ("huge", "9" * 30)]:
            yield case(
                f"content-length-{cl_id}-{route_id}",
                "POST",
                path,
                [400, 411, 413],
                body=b"{}",
                headers=[("content-length", value)],
            )
    for path in ("/api/me", "/healthz", "/.well-known/jwks.json", "/auth/sessions"):
        yield case(f"size-over-limit-get-{path}", "GET", path, [413], body=BIG)


# --------------------------------------------------------------------------------------------
# Cookies on the routes that read the refresh cookie

# (id, cookie header, send CSRF header, refresh statuses, logout statuses, spends_own)
COOKIES: list[tuple[str, str, bool, frozenset[int], frozenset[int], bool]] = [
    ("empty", "tessera_refresh=", True, expect(401), expect(204), False),
    ("empty-no-csrf", "tessera_refresh=", False, expect(401, 403), expect(204, 403), False),
    ("garbage-no-csrf", "tessera_refresh=garbage", False, expect(403), expect(403), False),
    ("garbage", "tessera_refresh=garbage", True, expect(401), expect(204), False),
    ("giant", "tessera_refresh=" + "g" * 50_000, True, expect(401), expect(204), False),
    ("giant-no-csrf", "tessera_refresh=" + "g" * 50_000, False, expect(403), expect(403), False),
    (
        "non-ascii",
        raw("tessera_refresh=éé".encode("latin-1")),
        True,
        expect(401),
        expect(204),
        False,
    ),
    ("invalid-utf8", raw(b"tessera_refresh=\xff\xfe"), True, expect(401), expect(204), False),
    ("nul", raw(b"tessera_refresh=\x00"), True, expect(401), expect(204), False),
    ("quoted-garbage", 'tessera_refresh="garbage"', True, expect(401), expect(204), False),
    ("unterminated-quote", 'tessera_refresh="', True, expect(401), expect(204), False),
    ("escaped-quote", 'tessera_refresh="\\"\\012"', True, expect(401), expect(204), False),
    ("no-equals", "tessera_refresh", True, expect(401), expect(204), False),
    ("only-separators", ";;; ;=;=", True, expect(401), expect(204), False),
    ("many-equals", "tessera_refresh=a=b=c", True, expect(401), expect(204), False),
    (
        "well-formed-unknown",
        "tessera_refresh=tsr1_" + "A" * 43,
        True,
        expect(401),
        expect(204),
        False,
    ),
    ("own-suffixed", "tessera_refresh=@REFRESH@x", True, expect(401), expect(204), False),
    ("own-truncated", "tessera_refresh=@REFRESH_CUT@", True, expect(401), expect(204), False),
    ("own-swapcase", "tessera_refresh=@REFRESH_SWAP@", True, expect(401), expect(204), False),
    ("own-no-csrf", "tessera_refresh=@REFRESH@", False, expect(403), expect(403), False),
    (
        "many-cookies",
        "; ".join(f"c{i}=v{i}" for i in range(2000)),
        True,
        expect(401),
        expect(204),
        False,
    ),
    (
        "duplicate-garbage-then-own",
        "tessera_refresh=garbage; tessera_refresh=@REFRESH@",
        True,
        expect(200, 401),
        expect(204),
        True,
    ),
    ("own-padded", "tessera_refresh=  @REFRESH@  ", True, expect(200, 401), expect(204), True),
]

# Cookie headers that carry no tessera_refresh value at all: a refresh answers "no refresh
# token" without touching a cookie.
COOKIES_WITHOUT_TOKEN = {"empty", "no-equals", "only-separators", "many-cookies"}

# CSRF header and Origin oddities with the own (valid) refresh cookie: always refused, and the
# token must survive (nothing changes on a CSRF failure).
CSRF_HEADERS: list[tuple[str, list[tuple[str, str]]]] = [
    ("csrf-0", [("x-tessera-csrf", "0")]),
    ("csrf-empty", [("x-tessera-csrf", "")]),
    ("csrf-true", [("x-tessera-csrf", "true")]),
    ("csrf-padded", [("x-tessera-csrf", " 1 ")]),
    ("csrf-11", [("x-tessera-csrf", "11")]),
    ("csrf-non-ascii", [("x-tessera-csrf", raw("\uff11".encode()))]),
    ("origin-null", [CSRF_OK, ("origin", "null")]),
    ("origin-evil", [CSRF_OK, ("origin", "https://evil.example")]),
    ("origin-lookalike", [CSRF_OK, ("origin", "https://testserver.evil.example")]),
    ("origin-http", [CSRF_OK, ("origin", "http://testserver")]),
    ("origin-empty", [CSRF_OK, ("origin", "")]),
    ("origin-non-ascii", [CSRF_OK, ("origin", raw("https://tëstserver".encode()))]),
    ("origin-giant", [CSRF_OK, ("origin", "https://" + "o" * 20_000)]),
    ("origin-with-path", [CSRF_OK, ("origin", "https://evil.example/https://testserver")]),
]


def cookie_cases() -> Iterator[Any]:
    for cookie_id, cookie, csrf, on_refresh, on_logout, spends_own in COOKIES:
        headers = [("cookie", cookie), *([CSRF_OK] if csrf else [])]
        yield case(
            f"cookie-{cookie_id}-refresh",
            "POST",
            REFRESH,
            on_refresh,
            codes=("invalid_grant", "csrf_failed"),
            headers=headers,
            spends_own=spends_own,
            clears_cookie=csrf and cookie_id not in COOKIES_WITHOUT_TOKEN,
        )
        yield case(
            f"cookie-{cookie_id}-logout",
            "POST",
            LOGOUT,
            on_logout,
            codes=("csrf_failed",),
            headers=headers,
            spends_own=spends_own,
        )
    for csrf_id, headers in CSRF_HEADERS:
        for route_id, path in (("refresh", REFRESH), ("logout", LOGOUT)):
            yield case(
                f"{csrf_id}-{route_id}",
                "POST",
                path,
                [403],
                codes=CSRF,
                headers=[("cookie", "tessera_refresh=@REFRESH@"), *headers],
            )


# --------------------------------------------------------------------------------------------
# Path parameters of DELETE /auth/sessions/{id}, with a valid Bearer token: nothing matches

SESSION_IDS: list[tuple[str, str]] = [
    ("nul", "%00"),
    ("invalid-utf8", "%FF%FE"),
    ("encoded-surrogate", "%ED%A0%80"),
    ("overlong", "%C0%AF"),
    ("long", "a" * 10_000),
    ("very-long", "b" * 60_000),
    ("dot-dot", "%2e%2e"),
    ("encoded-slash", "a%2Fb"),
    ("double-encoded-slash", "a%252Fb"),
    ("space", "%20"),
    ("tab", "%09"),
    ("latin", "é"),
    ("emoji", "😀"),
    ("rtl", "\u202e"),
    ("star", "*"),
    ("percent-sign", "%25"),
    ("sql", "x'%20OR%20'1'='1"),
    ("null-word", "null"),
    ("negative", "-1"),
    ("own-with-nul", "@SID@%00"),
    ("own-with-space", "@SID@%20"),
    ("own-with-dot", "@SID@."),
    ("own-swapcase", "@SID_SWAP@"),
    ("own-doubled", "@SID@@SID@"),
]


def path_cases() -> Iterator[Any]:
    for sid_id, sid in SESSION_IDS:
        yield case(
            f"session-id-{sid_id}",
            "DELETE",
            f"/auth/sessions/{sid}",
            [404],
            codes=("not_found",),
            headers=[("authorization", "Bearer @ACCESS@")],
        )
    yield case(
        "session-id-traversal",
        "DELETE",
        "/auth/sessions/..%2F..%2Fhealthz",
        [404, 405],
        headers=[("authorization", "Bearer @ACCESS@")],
    )
    yield case(
        "session-id-extra-segment",
        "DELETE",
        "/auth/sessions/@SID@/x",
        [404, 405],
        headers=[("authorization", "Bearer @ACCESS@")],
    )
    yield case(
        "session-id-empty",
        "DELETE",
        "/auth/sessions/",
        [307, 308, 404, 405],
        headers=[("authorization", "Bearer garbage")],
    )


# --------------------------------------------------------------------------------------------
# Unknown routes, wrong methods, and the unauthenticated GET routes with junk around them

UNKNOWN_ROUTES: list[tuple[str, str, str]] = [
    ("nope", "GET", "/nope"),
    ("auth-root", "GET", "/auth"),
    ("auth-unknown", "POST", "/auth/token"),
    ("login-suffix", "POST", "/auth/login/x"),
    ("api-unknown", "GET", "/api/you"),
    ("jwks-suffix", "GET", "/.well-known/jwks.json/x"),
    ("well-known-other", "GET", "/.well-known/openid-configuration"),
    ("invalid-utf8", "GET", "/%FF%FE"),
    ("nul", "GET", "/%00"),
    ("unicode", "GET", "/ünïcödé/😀"),
    ("long", "GET", "/" + "p" * 50_000),
    ("double-slash", "GET", "//healthz/x"),
    ("sessions-deep", "GET", "/auth/sessions/a/b/c"),
    ("delete-root", "DELETE", "/nope"),
]

WRONG_METHODS: list[tuple[str, str]] = [
    ("GET", LOGIN),
    ("PUT", LOGIN),
    ("DELETE", LOGIN),
    ("GET", REFRESH),
    ("PATCH", REFRESH),
    ("GET", LOGOUT),
    ("PUT", "/auth/sessions"),
    ("POST", "/auth/sessions"),
    ("PATCH", "/auth/sessions"),
    ("GET", "/auth/sessions/@SID@"),
    ("POST", "/auth/sessions/@SID@"),
    ("POST", "/.well-known/jwks.json"),
    ("DELETE", "/.well-known/jwks.json"),
    ("POST", "/api/me"),
    ("DELETE", "/api/me"),
    ("POST", "/healthz"),
    ("PUT", "/readyz"),
    ("POST", "/metrics"),
    ("OPTIONS", LOGIN),
    ("TRACE", "/api/me"),
    ("BREW", "/healthz"),
]

OPEN_GET_ROUTES = ["/healthz", "/readyz", "/metrics", "/.well-known/jwks.json"]
JUNK_AROUND: list[tuple[str, list[tuple[str, str]]]] = [
    ("bad-bearer", [("authorization", "Bearer garbage")]),
    ("basic", [("authorization", "Basic Zm9vOmJhcg==")]),
    ("garbage-cookie", [("cookie", raw(b"tessera_refresh=\xff; ;;=="))]),
    ("accept-html", [("accept", "text/html")]),
    ("accept-nothing", [("accept", "application/x-nothing")]),
    ("giant-header", [("x-junk", "j" * 100_000)]),
    ("non-ascii-header", [("x-junk", raw(b"\xff\xfe\x00"))]),
    ("forwarded-garbage", [("x-forwarded-for", raw(b"\xff, , ::1, 999.999.999.999"))]),
]


def route_cases() -> Iterator[Any]:
    for route_id, method, path in UNKNOWN_ROUTES:
        yield case(f"unknown-{route_id}", method, path, [404], codes=("not_found",))
    for method, path in WRONG_METHODS:
        yield case(
            f"method-{method}-{path}",
            method,
            path,
            [405],
            codes=("method_not_allowed",),
        )
    yield case("method-HEAD-healthz", "HEAD", "/healthz", [200, 405])
    for path in OPEN_GET_ROUTES:
        for junk_id, headers in JUNK_AROUND:
            yield case(f"get-{path}-{junk_id}", "GET", path, [200], headers=headers)
        yield case(f"get-{path}-query-junk", "GET", path + "?%FF=%00&a=" + "q" * 10_000, [200])
        yield case(
            f"get-{path}-json-body",
            "GET",
            path,
            [200],
            body=b'{"username": "alice"}',
        )
    for junk_id, headers in JUNK_AROUND[2:]:
        yield case(
            f"login-wrong-password-{junk_id}",
            "POST",
            LOGIN,
            [401],
            codes=WRONG_CREDENTIALS,
            body=login(username="alice", password=WRONG),
            headers=headers,
        )
    yield case(
        "login-giant-user-agent",
        "POST",
        LOGIN,
        [200],
        body=VALID_LOGIN,
        headers=[("user-agent", "u" * 100_000)],
    )
    yield case(
        "login-binary-user-agent",
        "POST",
        LOGIN,
        [200],
        body=VALID_LOGIN,
        headers=[("user-agent", raw(b"\xff\xfe\x00\xed\xa0\x80"))],
    )


CASES: list[Any] = [
    *authorization_cases(),
    *generic_body_cases(),
    *login_body_cases(),
    *refresh_body_cases(),
    *logout_body_cases(),
    *content_type_cases(),
    *size_cases(),
    *cookie_cases(),
    *path_cases(),
    *route_cases(),
]


# --------------------------------------------------------------------------------------------
# the world the cases run in


@dataclass
class World:
    """The shared service, its clock, and two sessions of alice: "own", which the cases may
    aim at (re-opened whenever a case spends it), and "victim", opened before the barrage and
    never sent anywhere until the end."""

    service: Tessera
    app: FastAPI
    clock: ManualClock
    victim_refresh: str
    own: dict[str, Any] | None = None
    next_host: int = 0

    def client(self) -> httpx.AsyncClient:
        """A client from an address no other case uses (the login limit counts per IP)."""
        self.next_host += 1
        n = self.next_host
        return client_for(self.app, f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}")

    async def own_session(self) -> dict[str, Any]:
        if self.own is None:
            async with self.client() as client:
                self.own = await body_login(client)
        return self.own

    def past_grace(self) -> None:
        """Move beyond the reuse grace window: from here on, presenting a token that was
        rotated meanwhile is reuse (401), not a quiet replay (200)."""
        self.clock.advance(self.service.settings.reuse_grace + 1)


def client_for(app: FastAPI, ip: str) -> httpx.AsyncClient:
    # raise_app_exceptions=False: a crash is seen as the 500 a real client would get.
    transport = httpx.ASGITransport(app=app, client=(ip, 4242), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="https://testserver")


async def start_service(data_dir: Path, clock: ManualClock, **overrides: object) -> Tessera:
    service = Tessera(make_settings(data_dir, **overrides), clock=clock)
    await service.start()
    await service.users.add("alice", PASSWORD)
    await service.users.add("root", PASSWORD, role="admin")
    return service


async def body_login(client: httpx.AsyncClient, username: str = "alice") -> dict[str, Any]:
    response = await client.post(
        LOGIN, json={"username": username, "password": PASSWORD, "transport": "body"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    clock = ManualClock(START)
    # Each case moves the clock past the grace window; a long key-reload interval keeps that
    # from re-reading the key ring (and rebuilding the RSA key, ~50 ms) on every case. Login
    # limits are out of the way (hundreds of cases fail logins for alice); they have their own
    # test below.
    service = await start_service(
        tmp_path_factory.mktemp("malformed") / "data",
        clock,
        key_reload_interval=1e9,
        login_limit_per_user=10**6,
        login_limit_per_ip=10**6,
    )
    app = create_app(service)
    async with client_for(app, "192.0.2.1") as client:
        victim = await body_login(client)
    yield World(service=service, app=app, clock=clock, victim_refresh=victim["refresh_token"])
    await service.close()


def swapcase_tail(text: str) -> str:
    """Change letters but keep the shape (a `tsr1_` prefix stays a `tsr1_` prefix)."""
    head, sep, tail = text.partition("_")
    return head + sep + tail.swapcase() if sep else text.swapcase()


def markers(tokens: dict[str, Any]) -> dict[str, str]:
    access: str = tokens["access_token"]
    refresh: str = tokens["refresh_token"]
    header_segment, payload_segment, signature = access.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_segment + "=="))
    payload = json.loads(base64.urlsafe_b64decode(payload_segment + "=="))
    kid = header["kid"]
    dup_header = b'{"alg":"%s","alg":"none","kid":"%s","typ":"at+jwt"}' % (
        header["alg"].encode(),
        kid.encode(),
    )
    return {
        # longer markers first: "@REFRESH_CUT@" must not be eaten by "@REFRESH@"
        "@REFRESH_CUT@": refresh[:-1],
        "@REFRESH_SWAP@": swapcase_tail(refresh),
        "@REFRESH@": refresh,
        "@ACCESS@": access,
        "@SID_SWAP@": swapcase_tail(tokens["session_id"]),
        "@SID@": tokens["session_id"],
        "@HDR@": header_segment,
        "@PAY@": payload_segment,
        "@SIG@": signature,
        "@ADMIN_PAY@": b64j({**payload, "role": "admin"}),
        "@NONE_HDR@": b64j({"alg": "none", "kid": kid, "typ": "at+jwt"}),
        "@NONE_UPPER_HDR@": b64j({"alg": "NONE", "kid": kid, "typ": "at+jwt"}),
        "@HS_HDR@": b64j({"alg": "HS256", "kid": kid, "typ": "at+jwt"}),
        "@JKU_HDR@": b64j({**header, "jku": "https://evil.example/jwks.json"}),
        "@DUP_HDR@": b64(dup_header),
        "@JWT_TYP_HDR@": b64j({**header, "typ": "JWT"}),
    }


def fill(text: str, values: dict[str, str]) -> str:
    for marker, value in values.items():
        text = text.replace(marker, value)
    return text


def fill_bytes(data: bytes, values: dict[str, str]) -> bytes:
    for marker, value in values.items():
        data = data.replace(marker.encode(), value.encode())
    return data


def header_bytes(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode()


async def chunks(data: bytes, size: int = 8192) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def send(client: httpx.AsyncClient, case: Case, values: dict[str, str]) -> httpx.Response:
    headers = [(name.encode(), header_bytes(fill(value, values))) for name, value in case.headers]
    content: bytes | AsyncIterator[bytes] | None = None
    if case.body is not None:
        body = fill_bytes(case.body, values)
        content = chunks(body) if case.stream else body
    url = fill(case.path, values)
    request = client.build_request(case.method, url, headers=headers, content=content)
    if case.stream:
        request.headers.pop("content-length", None)
    return await client.send(request)


# --------------------------------------------------------------------------------------------
# the checks


def assert_error_shape(response: httpx.Response, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """The contract's error body: JSON `{"error": CODE, "error_description": TEXT}`."""
    status = response.status_code
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith("application/json"), (
        f"{status} error is not JSON: {content_type!r} {response.text[:200]!r}"
    )
    body = response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str) and body["error"], body
    assert isinstance(body.get("error_description"), str) and body["error_description"], body
    if status in CODES_BY_STATUS:
        assert body["error"] in CODES_BY_STATUS[status], (status, body)
    if body["error"] == "invalid_token":
        assert response.headers.get("www-authenticate", "").startswith("Bearer"), response.headers
    if status == 429:
        assert response.headers.get("retry-after"), response.headers
    for secret in secrets:
        assert secret not in response.text, "an error body repeats a secret"
    return body


def assert_outcome(case: Case, response: httpx.Response, secrets: Iterable[str]) -> None:
    status = response.status_code
    assert status < 500, f"server error {status}: {response.text[:300]!r}"
    assert status in case.expect, (
        f"status {status} not in {sorted(case.expect)}: {response.text[:300]!r}"
    )
    if status >= 400 and case.method != "HEAD":
        body = assert_error_shape(response, secrets)
        if case.codes:
            assert body["error"] in case.codes, body
    if case.clears_cookie and status == 401:
        cookies = response.headers.get_list("set-cookie")
        assert any(c.startswith("tessera_refresh=;") and "Max-Age=0" in c for c in cookies), cookies


async def assert_login_refresh_api(client: httpx.AsyncClient) -> None:
    """A fresh login, a refresh and an API call all work."""
    fresh = await body_login(client)
    rotated = await client.post(REFRESH, json={"refresh_token": fresh["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    bearer = {"Authorization": f"Bearer {rotated.json()['access_token']}"}
    me = await client.get("/api/me", headers=bearer)
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "user"


# --------------------------------------------------------------------------------------------
# the tests


@pytest.mark.parametrize("case", CASES)
async def test_malformed_request(world: World, case: Case) -> None:
    own = await world.own_session()
    world.own = None  # until it is shown to be alive
    async with world.client() as client:
        response = await send(client, case, markers(own))
        survivor = None
        if not case.spends_own:
            # The case must not have rotated or revoked the own session: past the grace window,
            # its refresh token still rotates.
            world.past_grace()
            survivor = await client.post(REFRESH, json={"refresh_token": own["refresh_token"]})
            if survivor.status_code == 200:
                world.own = {**own, **survivor.json()}
    assert_outcome(case, response, [PASSWORD, own["refresh_token"], world.victim_refresh])
    if survivor is not None:
        assert survivor.status_code == 200, f"the session's refresh token died: {survivor.text}"


async def test_extra_login_fields_grant_nothing(world: World) -> None:
    """Unknown fields are ignored, never obeyed: no role, subject or lifetime from the body."""
    async with world.client() as client:
        response = await client.post(
            LOGIN,
            json={
                "username": "alice",
                "password": PASSWORD,
                "transport": "body",
                "role": "admin",
                "sub": "root",
                "expires_in": 10**9,
                "__proto__": {"role": "admin"},
            },
        )
        assert response.status_code in (200, 400), response.text
        if response.status_code == 400:
            assert_error_shape(response)
            return
        token = response.json()["access_token"]
        me = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        assert me.json()["role"] == "user"
        assert response.json()["expires_in"] <= world.service.settings.access_ttl


async def test_login_rate_limit_answers_in_the_shape(client: httpx.AsyncClient) -> None:
    """With the default limits (a fresh service): failures end in 429 in the error shape, with
    Retry-After; another username still logs in."""
    statuses = []
    for _ in range(12):
        response = await client.post(LOGIN, json={"username": "mallory", "password": WRONG})
        statuses.append(response.status_code)
        if response.status_code != 401:
            break
    assert response.status_code == 429, statuses
    assert assert_error_shape(response, [WRONG])["error"] == "rate_limited"
    await assert_login_refresh_api(client)


async def test_failed_then_good_login_leaves_no_background_error(app: FastAPI) -> None:
    """A good login clears the user's earlier failures; that must not crash anything, not even
    the login limiter's background task that expires old failures while it walks its keys."""
    for n in range(150):  # many limiter keys, so an expiry walk takes a while
        async with client_for(app, f"10.9.{n // 100}.{n % 100}") as client:
            response = await client.post(LOGIN, json={"username": f"u{n}", "password": WRONG})
            assert response.status_code == 401
    async with client_for(app, "10.9.9.9") as client:
        response = await client.post(LOGIN, json={"username": "alice", "password": WRONG})
        assert response.status_code == 401
        await anyio.sleep(0.3)  # walks under way finish
        # This failure starts a new walk over every key, alice's included; the good login
        # right after it clears alice's failures while that walk is still going.
        response = await client.post(LOGIN, json={"username": "dave", "password": WRONG})
        assert response.status_code == 401
        await assert_login_refresh_api(client)
        await anyio.sleep(0.3)
        # The next failure replaces the walk task; a task that died with an exception reports
        # it when it is collected, and the test runner turns that into a failure.
        response = await client.post(LOGIN, json={"username": "carol", "password": WRONG})
        assert response.status_code == 401
        gc.collect()
        await anyio.sleep(0.01)


async def test_state_after_the_barrage(world: World) -> None:
    """Runs after the table (file order) on the same service: the session opened before the
    barrage still refreshes, and everything else still works."""
    world.past_grace()
    async with world.client() as client:
        victim = await client.post(REFRESH, json={"refresh_token": world.victim_refresh})
        assert victim.status_code == 200, victim.text
        bearer = {"Authorization": f"Bearer {victim.json()['access_token']}"}
        assert (await client.get("/api/me", headers=bearer)).status_code == 200
        await assert_login_refresh_api(client)
        tokens = await body_login(client, "root")
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        for path in ("/auth/sessions", "/api/me"):
            assert (await client.get(path, headers=bearer)).status_code == 200, path
        for path in OPEN_GET_ROUTES:
            assert (await client.get(path)).status_code == 200, path
        revoke = await client.delete(f"/auth/sessions/{tokens['session_id']}", headers=bearer)
        assert revoke.status_code == 204
        gone = await client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})
        assert gone.status_code == 401
        assert_error_shape(gone)


# --------------------------------------------------------------------------------------------
# fuzzing the bodies of the POST routes


@dataclass
class Fuzz:
    service: Tessera
    clock: ManualClock
    client: httpx.AsyncClient
    refresh_token: str  # issued before the fuzzing, never sent by it


@pytest.fixture(scope="module")
async def fuzz(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fuzz]:
    """A service of its own, shared by the fuzzer and the check that runs after it; login
    limits out of the way so every example reaches the password check."""
    clock = ManualClock(START)
    service = await start_service(
        tmp_path_factory.mktemp("fuzz") / "data",
        clock,
        login_limit_per_user=10**6,
        login_limit_per_ip=10**6,
    )
    async with client_for(create_app(service), "198.51.100.9") as client:
        tokens = await body_login(client)
        yield Fuzz(service, clock, client, tokens["refresh_token"])
    await service.close()


FIELD_NAMES = st.sampled_from(["username", "password", "transport", "refresh_token"])
ANY_TEXT = st.text(
    alphabet=st.one_of(st.characters(), st.characters(categories=["Cs", "Cc", "Cf"])),
    max_size=40,
)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),  # NaN and ±Infinity included: json.dumps writes them as bare words
    ANY_TEXT,
    st.sampled_from(["alice", "root", PASSWORD, "body", "cookie", "tsr1_" + "A" * 43]),
)
ANY_JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(FIELD_NAMES, ANY_TEXT), inner, max_size=4),
    ),
    max_leaves=12,
)
OBJECTS_WITH_FIELDS = st.dictionaries(FIELD_NAMES, ANY_JSON, max_size=4)
CONTENT_TYPE = st.sampled_from(
    [
        JSON,
        JSON,
        JSON,
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
        "application/problem+json",
    ]
)
BODIES = st.one_of(
    st.tuples(OBJECTS_WITH_FIELDS.map(jbytes), st.just(JSON)),
    st.tuples(ANY_JSON.map(jbytes), st.just(JSON)),
    st.tuples(st.binary(max_size=300), CONTENT_TYPE),
    st.tuples(ANY_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")), CONTENT_TYPE),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(path=st.sampled_from([LOGIN, REFRESH, LOGOUT]), body=BODIES)
async def test_fuzzed_bodies(fuzz: Fuzz, path: str, body: tuple[bytes, str | None]) -> None:
    content, content_type = body
    headers = {"content-type": content_type} if content_type is not None else {}
    response = await fuzz.client.post(path, content=content, headers=headers)
    assert response.status_code < 500, response.text
    if not 200 <= response.status_code < 300:
        assert_error_shape(response, [PASSWORD, fuzz.refresh_token])


async def test_fuzz_leaves_the_service_working(fuzz: Fuzz) -> None:
    """Runs after the fuzzer (file order) on the same service."""
    fuzz.clock.advance(fuzz.service.settings.reuse_grace + 1)
    before = await fuzz.client.post(REFRESH, json={"refresh_token": fuzz.refresh_token})
    assert before.status_code == 200, before.text
    await assert_login_refresh_api(fuzz.client)
