"""Rows: bad `Authorization` headers on every Bearer route; cookies and CSRF headers on the
routes that read the refresh cookie."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.malformed.table import (
    BAD_TOKEN,
    CSRF,
    CSRF_OK,
    LOGOUT,
    REFRESH,
    b64,
    b64j,
    case,
    expect,
    raw,
)

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
