"""Judging a token's `exp`, `nbf` and `iat` at a given moment: what each says as a date and
relative to now, the token's status, and what looks wrong."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tessera.inspect.text import quote, span
from tessera.tokens.access import MAX_NUMERIC_DATE

TIME_CLAIMS = ("exp", "nbf", "iat")
MAX_LIFETIME = 86400.0


@dataclass(frozen=True)
class TimeClaim:
    """One time claim: its value, as dates (`None` outside what dates can show), and relative
    to the moment of the examination."""

    claim: str
    value: float
    utc: str | None
    local: str | None
    relative: str
    from_now: float

    def as_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "utc": self.utc,
            "local": self.local,
            "relative": self.relative,
            "from_now": self.from_now,
        }


@dataclass
class Times:
    """What the time claims say at one moment."""

    claims: dict[str, TimeClaim] = field(default_factory=dict)
    lifetime: float | None = None
    status: str = "malformed"  # valid | expired | not_yet_valid | no_expiry | malformed
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


def numeric_date(value: object) -> float | None:
    """`value` if it is a NumericDate (a finite number of seconds, at most 2^53), else `None`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if abs(value) > MAX_NUMERIC_DATE:
        return None
    return value


def _iso(moment: datetime, integral: bool) -> str:
    return moment.isoformat(timespec="seconds" if integral else "milliseconds")


def dates(value: float) -> tuple[str | None, str | None]:
    """ISO 8601 in UTC (with `Z`) and in the local zone; `None` outside years 1 to 9999."""
    try:
        moment = datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None, None
    integral = float(value).is_integer()
    utc = _iso(moment, integral).replace("+00:00", "Z")
    try:
        local: str | None = _iso(moment.astimezone(), integral)
    except (OverflowError, OSError, ValueError):
        local = None
    return utc, local


def relative(claim: str, value: float, at: float) -> str:
    delta = value - at
    if claim == "exp":
        return f"expires in {span(delta)}" if delta > 0 else f"expired {span(delta)} ago"
    if claim == "nbf":
        return f"valid in {span(delta)}" if delta > 0 else f"valid since {span(delta)} ago"
    return f"issued in {span(delta)} (in the future)" if delta > 0 else f"issued {span(delta)} ago"


def judge_times(claims: dict[str, Any], at: float, leeway: float) -> Times:
    """The time claims of `claims` at `at`, with `leeway` seconds of clock skew allowed."""
    times = Times()
    bad = False
    for name in TIME_CLAIMS:
        if name not in claims:
            continue
        value = numeric_date(claims[name])
        if value is None:
            bad = True
            times.warnings.append(
                f"{name} is {quote(claims[name])}: not a NumericDate (seconds since 1970)"
            )
            continue
        utc, local = dates(value)
        times.claims[name] = TimeClaim(
            name, value, utc, local, relative(name, value, at), value - at
        )
    exp, nbf, iat = (times.claims.get(n) for n in TIME_CLAIMS)
    if "exp" not in claims:
        times.warnings.append("no exp: this token never expires")
    if exp is not None and iat is not None:
        times.lifetime = exp.value - iat.value
        if times.lifetime > MAX_LIFETIME:
            times.warnings.append(f"lifetime is {span(times.lifetime)}: more than 24 h")
        elif times.lifetime <= 0:
            times.warnings.append("exp is not after iat: the token was never valid")
    if nbf is not None and nbf.value > at:
        times.warnings.append(f"nbf is in the future (valid in {span(nbf.value - at)})")
    if iat is not None and iat.value > at + leeway:
        times.warnings.append(
            f"iat is {span(iat.value - at)} in the future: the issuer's clock and this one disagree"
        )
    if bad:
        times.error = "a time claim is not a NumericDate"
    elif nbf is not None and at + leeway < nbf.value:
        times.status = "not_yet_valid"
    elif exp is None:
        times.status = "no_expiry"
    elif at >= exp.value + leeway:
        times.status = "expired"
    else:
        times.status = "valid"
    return times
