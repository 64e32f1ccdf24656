"""How a refresh token travels: the `tessera_refresh` cookie (browsers) or the JSON body.

The cookie is HttpOnly, Secure, SameSite=Strict and scoped to the auth prefix, so scripts never
read it and it is only ever sent to the auth routes. Any request authenticated by it must carry
`X-Tessera-CSRF: 1` and, when it has an `Origin`, an allowed one.
"""

from __future__ import annotations

import math

from fastapi import Request
from starlette.responses import Response

from tessera.errors import CsrfFailed
from tessera.settings import Settings

COOKIE = "tessera_refresh"
CSRF_HEADER = "x-tessera-csrf"


def set_refresh_cookie(response: Response, settings: Settings, token: str, max_age: float) -> None:
    response.headers.append("set-cookie", _cookie(settings, token, max(0, math.floor(max_age))))


def clear_refresh_cookie(response: Response, settings: Settings) -> None:
    response.headers.append("set-cookie", _cookie(settings, "", 0))


def _cookie(settings: Settings, value: str, max_age: int) -> str:
    attributes = [f"{COOKIE}={value}", f"Max-Age={max_age}", f"Path={settings.prefix}", "HttpOnly"]
    if settings.cookie_secure:
        attributes.append("Secure")
    attributes.append("SameSite=Strict")
    return "; ".join(attributes)


def refresh_cookie(request: Request) -> str | None:
    return request.cookies.get(COOKIE) or None


def request_origin(request: Request) -> str:
    """This server's own origin as the client addressed it."""
    host = request.headers.get("host") or (request.url.netloc or "")
    return f"{request.url.scheme}://{host}".lower()


def check_csrf(request: Request, settings: Settings) -> None:
    """Refuse a cookie-authenticated request that a cross-site page could have forged."""
    if request.headers.get(CSRF_HEADER) != "1":
        raise CsrfFailed("cookie-authenticated requests need the header X-Tessera-CSRF: 1")
    origin = request.headers.get("origin")
    if origin is None:
        return
    origin = origin.rstrip("/").lower()
    allowed = {o.lower() for o in settings.allowed_origins}
    if origin != request_origin(request) and origin not in allowed:
        raise CsrfFailed("origin is not allowed")
