"""Strict JSON and base64url for token segments: the inputs attackers control.

Standard `json` accepts duplicate member names (last wins), `NaN` and `Infinity`, unpaired
surrogate escapes (`"\\ud800"`, which no UTF-8 text can hold, RFC 7493 §2.1), and recurses
until the interpreter gives up; base64 decoders accept padding and non-zero trailing bits. Each
of those lets one token mean two things, so token parsing goes through here.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")
# The last character of an unpadded base64url string must leave the unused low bits at zero.
_CANONICAL_LAST = {2: frozenset("AQgw"), 3: frozenset("AEIMQUYcgkosw048")}
MAX_NESTING = 32
# A `\uD800`-`\uDFFF` escape somewhere in the text: only then can a parsed string hold a
# lone surrogate (a pair of them becomes one character; raw UTF-8 cannot encode them at all).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class StrictJSONError(ValueError):
    """Input that is not one unambiguous, finite, reasonably shallow JSON object."""


def b64url_decode(segment: str) -> bytes:
    """Decode canonical unpadded base64url; anything else raises `StrictJSONError`."""
    if not _SEGMENT.fullmatch(segment):
        raise StrictJSONError("segment is not base64url")
    rest = len(segment) % 4
    if rest == 1:
        raise StrictJSONError("segment has an impossible length")
    if rest and segment[-1] not in _CANONICAL_LAST[rest]:
        raise StrictJSONError("segment is not canonical base64url")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise StrictJSONError("segment is not base64url") from exc


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise StrictJSONError(f"duplicate member {key!r}")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise StrictJSONError(f"non-standard number {name}")


def _depth_ok(text: str) -> bool:
    """Cheap upper bound on nesting, checked before the recursive parser sees the text."""
    depth = 0
    deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest <= MAX_NESTING


def loads_object(data: bytes) -> dict[str, Any]:
    """Parse UTF-8 JSON that must be an object, strictly."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StrictJSONError("not UTF-8") from exc
    if text.count("[") + text.count("{") > MAX_NESTING and not _depth_ok(text):
        raise StrictJSONError("JSON nested too deeply")
    try:
        value = json.loads(text, object_pairs_hook=_unique_object, parse_constant=_no_constants)
    except StrictJSONError:
        raise
    except (ValueError, RecursionError) as exc:
        raise StrictJSONError("not JSON") from exc
    if not isinstance(value, dict):
        raise StrictJSONError("not a JSON object")
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise StrictJSONError("unpaired surrogate escape")
    return value


def _has_lone_surrogate(value: Any) -> bool:
    """Whether a parsed value holds a lone surrogate in any string, member names included."""
    if isinstance(value, str):
        return _LONE_SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


# Made once: `json.dumps` with any option builds a new encoder on every call.
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dumps_compact(value: dict[str, Any]) -> bytes:
    return _COMPACT.encode(value).encode("utf-8")
