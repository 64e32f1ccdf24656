"""Examining a token: decode it however broken it is, say what it claims and when, warn about
everything a careful reader would notice, and check its signature against keys the user named.

Everything in a token is attacker-controlled. Keys never come from it (`jwk`, `jku`, `x5u`,
`x5c` are only reported), and the algorithm always comes from the key. The decoder page runs
the same rules in `web/static/inspect.js`; `tests/inspection_cases.json` holds both to them.
"""

from __future__ import annotations

from typing import Any

from tessera.inspect.dpop import binding, examine_proof, is_proof
from tessera.inspect.keys import KeySet
from tessera.inspect.report import Report
from tessera.inspect.segments import lenient_object, strict_warnings
from tessera.inspect.signature import check_keys
from tessera.inspect.text import quote
from tessera.inspect.times import judge_times
from tessera.tokens.access import ACCESS_TOKEN_TYPES

MAX_TOKEN_CHARS = 65536
KEY_HEADERS = ("jku", "x5u", "jwk", "x5c")


def header_warnings(header: dict[str, Any]) -> list[str]:
    """What is wrong or unusual in a header, for any verifier."""
    found: list[str] = []
    alg = header.get("alg")
    if not isinstance(alg, str):
        found.append("the header has no alg")
    elif alg.lower() == "none":
        found.append('alg is "none": the token is not signed at all')
    for name in KEY_HEADERS:
        if name in header:
            found.append(
                f'the header carries "{name}": keys from the token are never used, and a '
                "verifier must never take them from there"
            )
    if "crit" in header:
        found.append(
            f"the header has crit {quote(header['crit'])}: verifiers must reject extensions "
            "they do not understand"
        )
    typ = header.get("typ")
    if typ is None:
        found.append('no typ: not marked as an access token ("at+jwt", RFC 9068); informational')
    elif not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
        found.append(
            f'typ is {quote(typ)}, not "at+jwt": not an access token by RFC 9068; informational'
        )
    return found


def _unreadable(token: str) -> str | None:
    """Why `token` cannot be looked into at all, or `None`."""
    if not token:
        return "the token is empty"
    if len(token) > MAX_TOKEN_CHARS:
        return f"the token is longer than {MAX_TOKEN_CHARS} characters"
    if not token.isascii():
        return "the token contains characters that are not ASCII"
    return None


def _encrypted(report: Report, header_segment: str) -> str:
    """A JWE: its header is shown when it can be read, nothing else can be."""
    described = ""
    try:
        report.header = lenient_object(header_segment, "header")
        alg, enc = report.header.get("alg"), report.header.get("enc")
        described = f" (alg {quote(alg)}, enc {quote(enc)})"
    except ValueError:
        pass
    return f"this is an encrypted JWE{described}: it cannot be read without its key"


def examine(token: str, *, now: float, leeway: float = 0.0, keys: KeySet | None = None) -> Report:
    """Decode `token`, judge its times at `now`, and check its signature if `keys` are given.
    A DPoP proof (`typ: dpop+jwt`) is judged as one: by its `iat`, against the window."""
    report = Report(now=now, leeway=leeway)
    token = token.strip()
    report.error = _unreadable(token)
    if report.error is not None:
        return report
    parts = token.split(".")
    if len(parts) == 5:
        report.error = _encrypted(report, parts[0])
        return report
    if len(parts) != 3:
        report.error = f"a JWS has 3 dot-separated parts; this has {len(parts)}"
        return report
    try:
        report.header = lenient_object(parts[0], "header")
        report.claims = lenient_object(parts[1], "payload")
    except ValueError as exc:
        report.error = str(exc)
        return report
    if is_proof(report.header):
        _proof(report, parts)
        return report
    report.warnings += header_warnings(report.header)
    report.warnings += strict_warnings(parts)
    times = judge_times(report.claims, now, leeway)
    report.times, report.lifetime, report.status = times.claims, times.lifetime, times.status
    report.warnings += times.warnings
    report.error = times.error
    report.bound_to, found = binding(report.claims)
    report.warnings += found
    if keys is not None and report.status != "malformed":
        check_keys(report, token, keys)
    return report


def _proof(report: Report, parts: list[str]) -> None:
    """A DPoP proof: what request it is for, its key, its age; its signature is the key's in
    its own header, which no key the user names has any say over."""
    assert report.header is not None and report.claims is not None
    report.kind = "dpop_proof"
    facts, header_found, claims_found, times = examine_proof(
        report.header, report.claims, report.now, report.leeway
    )
    report.proof = facts
    report.warnings += header_found + strict_warnings(parts) + claims_found + times.warnings
    report.times, report.status, report.error = times.claims, times.status, times.error
    report.signature_detail = "not checked (a DPoP proof is signed by the key in its header)"
