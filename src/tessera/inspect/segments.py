"""Reading a token's segments twice: leniently, to show what a forgiving parser sees, and
strictly (Tessera's own parser), to warn about every way the two readings differ.

The lenient reading accepts what common decoders accept: base64 padding, `+` and `/`, stray
low bits, duplicate member names (the last wins). It still refuses what would make the
reading depend on the parser's implementation: nesting deeper than `MAX_DEPTH` (a recursive
parser's stack) and integers of more than `MAX_INTEGER_DIGITS` digits (CPython's conversion
limit), both found by one scan before parsing. `web/static/inspect.js` follows these rules.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from tessera.tokens.strict_json import StrictJSONError, b64url_decode, loads_object

MAX_DEPTH = 256
MAX_INTEGER_DIGITS = 4300
_LONG_DIGITS = re.compile(rf"\d{{{MAX_INTEGER_DIGITS + 1}}}")
# The lexical items that matter to the scan: strings (skipped whole), brackets, numbers.
_ITEM = re.compile(r'"(?:[^"\\]|\\[\s\S])*"|[\[{]|[\]}]|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?')


def lenient_b64(segment: str) -> bytes:
    """Base64url as forgiving decoders read it: padding, `+`/`/` and stray low bits accepted."""
    text = segment.rstrip("=").replace("+", "-").replace("/", "_")
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    if len(text) % 4 == 1:
        raise ValueError("not base64url (impossible length)")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


def structure_problem(text: str) -> str | None:
    """What makes JSON text unfit to parse portably, or `None`: too deep, or an integer too
    long. One pass over strings, brackets and numbers, only when a quick look says it may be."""
    if text.count("[") + text.count("{") <= MAX_DEPTH and not _LONG_DIGITS.search(text):
        return None
    depth = 0
    for match in _ITEM.finditer(text):
        item = match.group()
        if item in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return "is nested too deeply"
        elif item in "]}":
            depth -= 1
        elif item[0] != '"' and _is_long_integer(item):
            return f"has an integer of more than {MAX_INTEGER_DIGITS} digits"
    return None


def _is_long_integer(number: str) -> bool:
    """A number without fraction or exponent (those are floats) and too many digits."""
    digits = number.lstrip("-")
    return len(digits) > MAX_INTEGER_DIGITS and digits.isdigit()


def _no_constants(name: str) -> Any:
    raise ValueError(f"non-standard number {name}")


def lenient_object(segment: str, what: str) -> dict[str, Any]:
    """Decode a segment for display (`what`: "header" or "payload"), or `ValueError` saying
    why it cannot be read at all."""
    try:
        text = lenient_b64(segment).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"the {what} is not UTF-8") from None
    except ValueError as exc:
        raise ValueError(f"the {what} is not base64url-encoded JSON ({exc})") from None
    problem = structure_problem(text)
    if problem is not None:
        raise ValueError(f"the {what} {problem}")
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise ValueError(f"the {what} is nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"the {what} is not base64url-encoded JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError(f"the {what} is not a JSON object")
    return value


def strict_warnings(parts: list[str]) -> list[str]:
    """What a strict parser (Tessera's own) refuses that the lenient reading accepted."""
    found: list[str] = []
    for segment, what in ((parts[0], "header"), (parts[1], "payload")):
        try:
            loads_object(b64url_decode(segment))
        except StrictJSONError as exc:
            found.append(
                f"the {what} fails strict parsing ({exc}): other parsers may read this token "
                "differently, and Tessera rejects it"
            )
    try:
        b64url_decode(parts[2])
    except StrictJSONError as exc:
        found.append(f"the signature fails strict parsing ({exc})")
    return found
