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

from tessera.inspect.dpop import PROOF_WINDOW
from tessera.inspect.report import Report
from tessera.inspect.text import quote, shorten, span
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
_PROOF_STYLE = {
    "fresh": ("FRESH DPoP PROOF", "green"),
    "stale": ("STALE DPoP PROOF", "red"),
    "not_yet_valid": ("DPoP PROOF FROM THE FUTURE", "yellow"),
    "malformed": ("MALFORMED DPoP PROOF", "red"),
}
_SIGNATURE_COLOUR = {"verified": "green", "invalid": "red", "unchecked": "yellow"}


def _signature(report: Report) -> str:
    detail = f"signature {report.signature_detail}"
    return typer.style(detail, fg=_SIGNATURE_COLOUR[report.signature])


def _proof_status(report: Report) -> str:
    """A proof's verdict: its age against the window (never an expiry), or why it is unusable."""
    label, colour = _PROOF_STYLE[report.status]
    if report.proof is not None and report.proof.private_key:
        label, colour = "PRIVATE KEY EXPOSED IN A DPoP PROOF", "red"
    iat = report.times.get("iat")
    if iat is not None:
        where = "within" if report.status == "fresh" else "outside"
        detail = f" ({iat.relative}; {where} the {PROOF_WINDOW:g} s window)"
    else:
        detail = f" ({report.error})" if report.error else ""
    return (
        typer.style(label, fg=colour, bold=True) + terminal_safe(detail) + "; " + _signature(report)
    )


def status_line(report: Report) -> str:
    if report.kind == "dpop_proof":
        return _proof_status(report)
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
    return (
        typer.style(label, fg=colour, bold=True) + terminal_safe(detail) + "; " + _signature(report)
    )


def _shown(value: object, absent: str) -> str:
    """A claim's value on one line: a string as it is (bounded), anything else as JSON."""
    if value is None:
        return absent
    return terminal_safe(shorten(value) if isinstance(value, str) else quote(value))


def _dpop_lines(report: Report) -> list[str]:
    """What a bound token's cnf.jkt means, or what a DPoP proof is for and who signed it."""
    if report.bound_to is not None:
        return [
            _heading("Bound to a key (DPoP)"),
            f"  cnf.jkt   {report.bound_to}",
            "            usable only with a DPoP proof for each request, signed by the key of "
            "this RFC 7638 thumbprint",
            "",
        ]
    proof = report.proof
    if proof is None:
        return []
    lines = [_heading("DPoP proof") + "  (one request's signature, not a token)"]
    notes = {"ath": "  (SHA-256 of the access token it goes with)"} if proof.claims["ath"] else {}
    for name, value in proof.claims.items():
        absent = "(missing)" if name in ("htm", "htu", "jti") else "(none)"
        lines.append(f"  {name}".ljust(12) + _shown(value, absent) + notes.get(name, ""))
    if proof.jkt is not None:
        lines.append("  key".ljust(12) + f"{proof.key}, thumbprint {proof.jkt} (RFC 7638)")
    else:
        lines.append("  key".ljust(12) + "(no usable public key: no thumbprint)")
    if proof.private_key:
        lines.append(typer.style("            HOLDS A PRIVATE KEY: exposed", fg="red", bold=True))
    iat = report.times.get("iat")
    if iat is not None:
        where = "within" if proof.within_window else "outside"
        lines.append("  age".ljust(12) + f"{iat.relative}: {where} the {PROOF_WINDOW:g} s window")
    lines.append("")
    return lines


def render_text(report: Report) -> str:
    lines: list[str] = []
    if report.header is not None:
        lines += [_heading("Header"), _pretty(report.header), ""]
    if report.claims is not None:
        lines += [_heading("Claims"), _pretty(report.claims), ""]
    lines += _dpop_lines(report)
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
