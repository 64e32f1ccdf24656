"""An examination as text for a terminal (coloured when click decides so) or as JSON.

Token contents never reach the terminal raw: control, format (bidi overrides…), surrogate and
private-use characters are escaped, so a token cannot move the cursor, recolour the screen or
reorder what is shown."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Any

import typer

from tessera.inspect.report import Report
from tessera.inspect.text import span
from tessera.inspect.times import TIME_CLAIMS, dates

_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_JSON_TOKEN = re.compile(
    r'("(?:[^"\\]|\\.)*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b'
)


def _escape(char: str) -> str:
    code = ord(char)
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """Escape control, format (bidi overrides…), surrogate and private-use characters, so
    token contents cannot move the cursor, recolour the terminal or reorder what is shown.
    Inside JSON strings the escapes are the JSON ones, so pretty JSON stays JSON."""
    return "".join(
        _escape(c) if c != "\n" and unicodedata.category(c) in _UNSAFE_CATEGORIES else c
        for c in text
    )


def _pretty(value: dict[str, Any]) -> str:
    text = terminal_safe(json.dumps(value, indent=2, ensure_ascii=False))

    def paint(match: re.Match[str]) -> str:
        string, colon, number, literal = match.groups()
        if string is not None:
            if colon is not None:
                return typer.style(string, fg="blue", bold=True) + colon
            return typer.style(string, fg="green")
        if number is not None:
            return typer.style(number, fg="cyan")
        return typer.style(literal, fg="magenta")

    return _JSON_TOKEN.sub(paint, text)


def _heading(text: str) -> str:
    return typer.style(text, bold=True, underline=True)


_STATUS_STYLE = {
    "valid": ("VALID", "green"),
    "expired": ("EXPIRED", "red"),
    "not_yet_valid": ("NOT YET VALID", "yellow"),
    "no_expiry": ("NO EXPIRY", "yellow"),
    "malformed": ("MALFORMED", "red"),
}


def status_line(report: Report) -> str:
    label, colour = _STATUS_STYLE[report.status]
    if report.signature == "invalid" and report.status != "malformed":
        label, colour = "INVALID SIGNATURE", "red"
    exp = report.times.get("exp")
    nbf = report.times.get("nbf")
    if report.status in ("valid", "expired") and exp is not None:
        detail = f" ({exp.relative})"
    elif report.status == "not_yet_valid" and nbf is not None:
        detail = f" ({nbf.relative})"
    elif report.status == "no_expiry":
        detail = " (never expires)"
    elif report.status == "malformed" and report.error:
        detail = f" ({report.error})"
    else:
        detail = ""
    if report.signature == "invalid" and report.status != "malformed":
        times = _STATUS_STYLE[report.status][0].lower()
        detail = f" (times: {times}{detail})"
    signature_colour = {"verified": "green", "invalid": "red", "unchecked": "yellow"}
    signature = typer.style(
        f"signature {report.signature_detail}", fg=signature_colour[report.signature]
    )
    return typer.style(label, fg=colour, bold=True) + terminal_safe(detail) + "; " + signature


def render_text(report: Report) -> str:
    lines: list[str] = []
    if report.header is not None:
        lines += [_heading("Header"), _pretty(report.header), ""]
    if report.claims is not None:
        lines += [_heading("Claims"), _pretty(report.claims), ""]
    if report.times or report.claims is not None:
        now_utc, _ = dates(math.floor(report.now))
        leeway = f", leeway {report.leeway:g} s" if report.leeway else ""
        lines.append(_heading("Times") + f"  (now {now_utc}{leeway})")
        meaning = {"exp": "expires", "nbf": "not before", "iat": "issued at"}
        for name in TIME_CLAIMS:
            claim = report.times.get(name)
            if claim is None:
                continue
            value = (
                f"{claim.value:g}" if not float(claim.value).is_integer() else str(int(claim.value))
            )
            lines.append(
                f"  {name} ({meaning[name]})".ljust(20)
                + f"{value:<12}  UTC {claim.utc or '(out of range)'}"
                + f"  local {claim.local or '(out of range)'}  {claim.relative}"
            )
        if report.lifetime is not None:
            lines.append(
                "  lifetime".ljust(20)
                + f"{span(report.lifetime)} ({report.lifetime:g} s, exp - iat)"
            )
        if not report.times:
            lines.append("  (no exp, nbf or iat)")
        lines.append("")
    if report.warnings:
        lines.append(_heading("Warnings"))
        lines += [typer.style(f"  ! {terminal_safe(w)}", fg="yellow") for w in report.warnings]
        lines.append("")
    lines.append(status_line(report))
    return "\n".join(lines)


def render_json(report: Report) -> str:
    return json.dumps(report.as_json(), indent=2, ensure_ascii=True)
