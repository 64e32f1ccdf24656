"""Which origins may receive the access token: the auth server's own and those listed.

A bearer token is good wherever it is presented, so it goes only where the caller said: an
origin is matched exactly (scheme, host, port), and a token from an https auth server never
travels in clear to a plain-http origin.
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from tessera.remote import redact_url

Origin = tuple[str, str, int]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: httpx.URL) -> Origin | None:
    """The (scheme, host, port) of an http(s) URL; None for any other scheme."""
    default = _DEFAULT_PORTS.get(url.scheme)
    if default is None or not url.raw_host:
        return None
    return url.scheme, url.raw_host.decode("ascii").lower(), url.port or default


def _listed(entry: str, auth_origin: Origin) -> Origin:
    shown = repr(redact_url(str(entry)))  # an error message never carries a password
    bad = ValueError(f"api_origins: {shown} is not an origin like 'https://api.example.com'")
    try:
        url = httpx.URL(entry)
    except (httpx.InvalidURL, TypeError):
        raise bad from None
    origin = origin_of(url)
    if origin is None or url.userinfo or url.path not in ("", "/") or url.query or url.fragment:
        raise bad
    if origin[0] == "http" and auth_origin[0] == "https":
        raise ValueError(
            f"api_origins: {shown} is plain http; a token from an https auth server "
            "never travels in clear"
        )
    return origin


def trusted_origins(auth_url: str, listed: Iterable[str]) -> frozenset[Origin]:
    """The auth server's origin and the listed ones; ValueError for anything else."""
    if isinstance(listed, str):
        raise ValueError("api_origins is a list of origins, not one string")
    auth_origin = origin_of(httpx.URL(auth_url))
    if auth_origin is None:
        raise ValueError(f"the auth URL {redact_url(auth_url)!r} is not an http(s) URL")
    return frozenset({auth_origin, *(_listed(entry, auth_origin) for entry in listed)})
