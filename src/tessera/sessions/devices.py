"""A short human name for the device behind a session ("Firefox on Linux"), from its stored
user agent: what a "your devices" page shows instead of a raw User-Agent string.

A table of substrings, first match wins, no dependency: good enough to tell one's own devices
apart, never used for a decision. An agent it cannot name gives None.
"""

from __future__ import annotations

# Tools and libraries, named alone: their agents carry no OS.
_TOOLS: tuple[tuple[str, str], ...] = (
    ("python-httpx/", "Python httpx"),
    ("python-requests/", "Python requests"),
    ("aiohttp/", "Python aiohttp"),
    ("curl/", "curl"),
    ("wget/", "Wget"),
    ("okhttp/", "OkHttp"),
    ("postmanruntime/", "Postman"),
    ("node-fetch", "Node.js"),
    ("node/", "Node.js"),
    ("undici", "Node.js"),
    ("go-http-client/", "Go"),
)

# Browsers, most specific first (Edge and Opera say "Chrome", Chrome says "Safari").
_BROWSERS: tuple[tuple[str, str], ...] = (
    ("edg/", "Edge"),
    ("edga/", "Edge"),
    ("edgios/", "Edge"),
    ("opr/", "Opera"),
    ("samsungbrowser/", "Samsung Internet"),
    ("firefox/", "Firefox"),
    ("fxios/", "Firefox"),
    ("crios/", "Chrome"),
    ("chromium/", "Chromium"),
    ("headlesschrome/", "Chrome"),
    ("chrome/", "Chrome"),
    ("safari/", "Safari"),
)

# Operating systems, most specific first (Android says "Linux", iOS says "like Mac OS X").
_SYSTEMS: tuple[tuple[str, str], ...] = (
    ("android", "Android"),
    ("iphone", "iOS"),
    ("ipad", "iPadOS"),
    ("cros", "ChromeOS"),
    ("windows", "Windows"),
    ("mac os x", "macOS"),
    ("macintosh", "macOS"),
    ("linux", "Linux"),
)


def _first(table: tuple[tuple[str, str], ...], agent: str) -> str | None:
    return next((name for needle, name in table if needle in agent), None)


def describe_device(user_agent: str | None) -> str | None:
    """ "Firefox on Linux", "Chrome", "Python httpx", "curl"; None when unknown."""
    if not user_agent:
        return None
    agent = user_agent.lower()
    tool = _first(_TOOLS, agent)
    if tool is not None:
        return tool
    browser = _first(_BROWSERS, agent)
    system = _first(_SYSTEMS, agent)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system
