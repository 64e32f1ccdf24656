"""How findings about a token are worded: durations, and attacker-supplied values quoted so
they stay short, ASCII and unambiguous inside a message."""

from __future__ import annotations

import json
import math

MAX_SHOWN = 200  # characters of an attacker-supplied value shown inside a message


def span(seconds: float) -> str:
    """Durations like "4 m 12 s", "3 h", "2 d 1 h": the two largest units, the second only
    if not zero."""
    rest = math.floor(abs(seconds) + 0.5)
    amounts: list[tuple[int, str]] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amounts.append((rest // size, unit))
        rest %= size
    first = next((i for i, (value, _) in enumerate(amounts) if value > 0), None)
    if first is None:
        return "0 s"
    shown = [amounts[first]]
    if first + 1 < len(amounts) and amounts[first + 1][0] > 0:
        shown.append(amounts[first + 1])
    return " ".join(f"{value} {unit}" for value, unit in shown)


def shorten(text: str) -> str:
    """`text`, cut to `MAX_SHOWN` characters."""
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def quote(value: object) -> str:
    """An attacker-supplied value inside a message: JSON-quoted, ASCII, bounded."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError):
        text = repr(value)
    return shorten(text)
