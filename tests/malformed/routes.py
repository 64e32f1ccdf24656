"""Rows: path parameters of `DELETE /auth/sessions/{id}`, unknown routes, wrong methods, and
the open GET routes with junk around them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.malformed.table import (
    LOGIN,
    LOGOUT,
    REFRESH,
    VALID_LOGIN,
    WRONG,
    WRONG_CREDENTIALS,
    case,
    login,
    raw,
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
