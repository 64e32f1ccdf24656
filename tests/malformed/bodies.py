"""Rows: bodies of every kind for the POST routes, other content types, and sizes over the
limit (and lying lengths)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from tests.conftest import PASSWORD
from tests.malformed.table import (
    JSON,
    LIMIT,
    LOGIN,
    LOGOUT,
    REFRESH,
    VALID_LOGIN,
    WRONG,
    case,
    expect,
    jbytes,
    login,
    raw,
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
