"""URLs Tessera itself fetches from (a JWKS, a revocation feed): fixed by configuration,
never taken from a token, and https — plain http only for this machine."""

from __future__ import annotations

import re
from urllib.parse import unquote_plus, urlsplit

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def check_fetch_url(url: str, what: str, *, allow_http: bool = False) -> str:
    """`url`, or ValueError if it is not https (http: only localhost, or with `allow_http`)."""
    parts = urlsplit(url)
    local = (parts.hostname or "") in LOCAL_HOSTS
    if parts.scheme != "https" and not (parts.scheme == "http" and (local or allow_http)):
        raise ValueError(f"the {what} URL must be https (http only for localhost)")
    return url


def redact_url(url: str) -> str:
    """`url` fit for a log line or an error message: its user-info (a password in a Redis or
    database URL, credentials in a JWKS or feed URL) and the values of its secret-looking
    query parameters (`?password=` is how a Redis unix-socket URL carries one) replaced by
    `***`; an unparsable URL becomes a placeholder rather than being echoed."""
    try:
        urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    return _redact_parameters(_redact_user_info(url))


# Query parameters whose value is hidden: any whose name contains one of these (in any case),
# so `sslpassword`, `client_secret`, `access_token` and `api_key` are covered too. Hiding a
# harmless value (`sslkey=/path`) costs nothing; showing a secret one cannot be taken back.
SECRET_PARAMETER_WORDS = ("pass", "pwd", "secret", "token", "key", "auth", "sig", "credential")
_PARAMETER_NAME = re.compile(r"[?&;#]([^?&;#=]*)=")
_VALUE_END = re.compile(r"[&;]")


def _redact_user_info(url: str) -> str:
    """Everything between `://` and the LAST `@` is user-info. A parser would stop the
    authority at an unencoded `#`, `?` or `/` in a password and find no user-info at all;
    reading further fails closed: at worst part of a path is hidden too."""
    at = url.rfind("@")
    if at == -1:
        return url
    start = url.find("://")
    start = start + 3 if -1 < start < at else 0
    return url[:start] + "***" + url[at:]


def _redact_parameters(url: str) -> str:
    """Each secret parameter's value hidden up to the next `&` or `;` (an unencoded `#` or
    `?` in it does not end it here)."""
    starts = [i for i in (url.find("?"), url.find("#")) if i != -1]
    if not starts:
        return url
    kept, shown_from = [], 0
    for name in _PARAMETER_NAME.finditer(url, min(starts)):
        if name.start() < shown_from:  # inside a value already hidden
            continue
        if any(word in unquote_plus(name.group(1)).lower() for word in SECRET_PARAMETER_WORDS):
            end = _VALUE_END.search(url, name.end())
            kept.append(url[shown_from : name.end()] + "***")
            shown_from = end.start() if end else len(url)
    return "".join(kept) + url[shown_from:]
