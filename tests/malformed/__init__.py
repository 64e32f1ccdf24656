"""Malformed input of every kind to every route, as one table of `Case` rows (`CASES`), built
from smaller lists: bad `Authorization` values x the Bearer routes, bodies x the POST routes,
cookies, path parameters, unknown routes and wrong methods, oversized bodies. To cover a new
input, add a row to the module it belongs to.

Request text may hold markers, filled from a live session of alice ("own"): `@ACCESS@`,
`@REFRESH@`, `@SID@`, `@HDR@`/`@PAY@`/`@SIG@` (the three segments of the access token) and a
few forged headers (`@NONE_HDR@`, ...). Header values are sent as their latin-1 bytes, so
`raw(b"...")` writes any byte (non-ASCII, invalid UTF-8) into a header.

tests/test_http_malformed.py runs the table; tests/test_http_fuzz.py fuzzes the bodies.
"""

from __future__ import annotations

from typing import Any

from tests.malformed.bodies import (
    content_type_cases,
    generic_body_cases,
    login_body_cases,
    logout_body_cases,
    refresh_body_cases,
    size_cases,
)
from tests.malformed.headers import authorization_cases, cookie_cases
from tests.malformed.routes import path_cases, route_cases

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
