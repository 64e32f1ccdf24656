"""`htu` as RFC 9449 §4.3 compares it: the request's URI without query and fragment, after
RFC 3986's syntax- and scheme-based normalisation (§6.2.2, §6.2.3), so that
`HTTPS://Example.COM:443/a/%7euser` and `https://example.com/a/~user` are one target."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _percent(match: re.Match[str]) -> str:
    char = chr(int(match.group(0)[1:], 16))
    return char if char in _UNRESERVED else match.group(0).upper()


def normalize_htu(url: str) -> str | None:
    """The comparable form of `url`, or None when it is not an absolute http(s) URL."""
    if not isinstance(url, str) or len(url) > 2048 or not url.isascii():
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host or parts.username or parts.password:
        return None
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _remove_dot_segments(_PERCENT.sub(_percent, parts.path)) or "/"
    return f"{scheme}://{netloc}{path}"


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4, on an absolute path."""
    output: list[str] = []
    for segment in path.split("/")[1:]:
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
    if path.endswith(("/.", "/..")):
        output.append("")
    return "/" + "/".join(output) if path.startswith("/") else path


@lru_cache(maxsize=1024)
def normalized(url: str) -> str | None:
    """`normalize_htu(url)`, remembered: a client's proofs name the same few URLs, and
    normalising one cost a proof check ~10 µs inside the server. For strings only."""
    return normalize_htu(url)
