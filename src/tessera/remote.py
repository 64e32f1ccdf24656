"""URLs Tessera itself fetches from (a JWKS, a revocation feed): fixed by configuration,
never taken from a token, and https — plain http only for this machine."""

from __future__ import annotations

from urllib.parse import urlsplit

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def check_fetch_url(url: str, what: str, *, allow_http: bool = False) -> str:
    """`url`, or ValueError if it is not https (http: only localhost, or with `allow_http`)."""
    parts = urlsplit(url)
    local = (parts.hostname or "") in LOCAL_HOSTS
    if parts.scheme != "https" and not (parts.scheme == "http" and (local or allow_http)):
        raise ValueError(f"the {what} URL must be https (http only for localhost)")
    return url


def redact_url(url: str) -> str:
    """`url` fit for a log line or an error message: any user-info (a password in a Redis or
    database URL, credentials in a JWKS or feed URL) replaced by `***`; an unparsable URL
    becomes a placeholder rather than being echoed."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
    except ValueError:
        return "<unparsable URL>"
    if "@" not in netloc:
        return url
    host = netloc.rsplit("@", 1)[1]
    return parts._replace(netloc="***@" + host).geturl()
