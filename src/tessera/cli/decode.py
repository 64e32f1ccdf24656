"""`tessera decode`: read a JWT locally, show what it says and when, and optionally check its
signature with a key the user names.

Everything in a token is attacker-controlled: it is decoded leniently so a broken token can
still be looked at, then parsed again strictly (`tokens.strict_json`) and every difference is
a warning. Keys never come from the token (`jwk`, `jku`, `x5u`, `x5c` are only reported), and
the algorithm always comes from the key. Nothing is sent anywhere except the request for a
JWKS URL given with `--jwks`.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import json
import math
import os
import re
import sys
import time
import unicodedata
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import httpx
import typer

from tessera.logs import redact
from tessera.remote import redact_url
from tessera.tokens import (
    InvalidToken,
    KeyMaterialError,
    SigningKey,
    check_signature,
    from_public_jwk,
    from_public_pem,
    from_secret,
)
from tessera.tokens.strict_json import StrictJSONError, b64url_decode, loads_object

MAX_TOKEN_CHARS = 65536
MAX_KEY_BYTES = 1024 * 1024  # JWKS responses and files, PEM files, secrets
JWKS_TIMEOUT = 10.0
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_LIFETIME = 86400.0
MAX_NUMERIC_DATE = 2**53
TIME_CLAIMS = ("exp", "nbf", "iat")
KEY_HEADERS = ("jku", "x5u", "jwk", "x5c")
ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")
MAX_SHOWN = 200  # characters of an attacker-supplied value shown inside a message

EXIT_VALID = 0
EXIT_TIME = 1
EXIT_INVALID = 2


def now() -> float:
    """The current time; tests replace this."""
    return time.time()


# key material ---------------------------------------------------------------------------------


class KeyInputError(Exception):
    """A key, secret or JWKS the user gave cannot be used (exit 2)."""


@dataclass(frozen=True)
class KeySet:
    """Verification keys the user named: one key (`--key`, `--secret-stdin`) or a JWKS from
    which the token's `kid` picks."""

    keys: tuple[SigningKey, ...]
    source: str
    by_kid: bool
    skipped: tuple[str, ...] = ()


def _read_capped(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_KEY_BYTES + 1)
    except OSError as exc:
        raise KeyInputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_KEY_BYTES:
        raise KeyInputError(f"{what} {path} is larger than 1 MiB")
    return data


def pem_key(path: Path) -> KeySet:
    """`--key`: a PEM public key; its type decides the algorithm."""
    data = _read_capped(path, "key file")
    if b"-----BEGIN " not in data:
        raise KeyInputError(f"{path} is not a PEM file (-----BEGIN PUBLIC KEY-----)")
    with warnings.catch_warnings():
        # joserfc warns on every import without an explicit key type; the type is checked here.
        warnings.simplefilter("ignore")
        try:
            key = from_public_pem(data)
        except KeyMaterialError as exc:
            raise KeyInputError(f"{path}: {exc}") from None
    if key.can_sign:
        typer.echo(f"note: {path} holds a private key; the public key is enough", err=True)
    return KeySet(keys=(key,), source=f"--key {path}", by_kid=False)


def secret_key(secret: bytes) -> KeySet:
    """`--secret-stdin`: an HS256 shared secret."""
    if not secret:
        raise KeyInputError("no HMAC secret on stdin")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            key = from_secret(secret)
        except KeyMaterialError as exc:
            raise KeyInputError(str(exc)) from None
    if caught:
        # joserfc only warns for bytes that look like a PEM or SSH key it could not parse as a
        # public key (a private key, say): never an HMAC secret anyone meant.
        raise KeyInputError("the secret looks like a PEM or SSH key; use --key for public keys")
    return KeySet(keys=(key,), source="the secret from stdin", by_kid=False)


def _entry_kid(entry: dict[str, Any]) -> str:
    kid = entry.get("kid")
    return _quote(kid) if kid is not None else "(no kid)"


def jwks_keys(data: bytes, where: str) -> KeySet:
    """The usable signature keys of a JWKS document (a lone JWK is accepted too). Entries that
    cannot be used (no `kid`, `use` other than `sig`, unsupported type or algorithm, private
    material only, too small) are skipped, not fatal."""
    try:
        document = loads_object(data)
    except StrictJSONError as exc:
        raise KeyInputError(f"{where} is not a JWKS: {exc}") from None
    if "keys" in document:
        entries = document["keys"]
    elif "kty" in document:
        entries = [document]
    else:
        raise KeyInputError(f'{where} is not a JWKS: no "keys" member')
    if not isinstance(entries, list):
        raise KeyInputError(f'{where} is not a JWKS: "keys" is not a list')
    keys: list[SigningKey] = []
    skipped: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict):
            skipped.append("an entry that is not an object")
            continue
        if entry.get("use", "sig") != "sig":
            skipped.append(f"{_entry_kid(entry)}: not a signature key (use {_quote(entry['use'])})")
            continue
        try:
            keys.append(from_public_jwk(entry))
        except Exception as exc:  # noqa: BLE001 - hostile JWKS entries must not crash the CLI
            skipped.append(f"{_entry_kid(entry)}: {_shorten(str(exc))}")
    if not keys:
        detail = f" ({'; '.join(skipped)})" if skipped else ""
        raise KeyInputError(f"{where} has no usable signature key{detail}")
    return KeySet(keys=tuple(keys), source=where, by_kid=True, skipped=tuple(skipped))


def _is_url(value: str) -> bool:
    return bool(re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", value))


def fetch_jwks(url: str) -> bytes:
    """GET a JWKS URL: https (plain http only on loopback), no redirects, 10 s, 1 MiB.
    Messages show the URL without its user-info (credentials)."""
    shown = redact_url(url)
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise KeyInputError(f"not a usable URL: {exc}") from None
    loopback = parsed.host in LOOPBACK_HOSTS
    if parsed.scheme != "https" and not (parsed.scheme == "http" and loopback):
        raise KeyInputError("a JWKS URL must use https (plain http only for localhost)")
    deadline = time.monotonic() + JWKS_TIMEOUT
    body = bytearray()
    try:
        with (
            httpx.Client(
                timeout=JWKS_TIMEOUT, follow_redirects=False, trust_env=not loopback
            ) as client,
            client.stream(
                "GET",
                parsed,
                headers={
                    "Accept": "application/jwk-set+json, application/json",
                    "Accept-Encoding": "identity",
                },
            ) as response,
        ):
            if response.is_redirect:
                target = _shorten(redact_url(response.headers.get("location", "?")))
                raise KeyInputError(f"{shown} redirects to {target}; give that URL if you trust it")
            if response.status_code != 200:
                raise KeyInputError(f"{shown} answered HTTP {response.status_code}")
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > MAX_KEY_BYTES:
                raise KeyInputError(f"the JWKS at {shown} is larger than 1 MiB")
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_KEY_BYTES:
                    raise KeyInputError(f"the JWKS at {shown} is larger than 1 MiB")
                if time.monotonic() > deadline:
                    raise KeyInputError(f"fetching {shown} took longer than {JWKS_TIMEOUT:g} s")
    except httpx.HTTPError as exc:
        reason = redact(str(exc)) or type(exc).__name__
        raise KeyInputError(f"cannot fetch {shown}: {reason}") from None
    return bytes(body)


def jwks_from(location: str) -> KeySet:
    """`--jwks`: a URL (fetched once) or a file."""
    if _is_url(location):
        return jwks_keys(fetch_jwks(location), f"JWKS {redact_url(location)}")
    return jwks_keys(_read_capped(Path(location), "JWKS file"), f"JWKS file {location}")


# decoding -----------------------------------------------------------------------------------


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


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def _quote(value: object) -> str:
    """An attacker-supplied value inside a message: JSON-quoted, ASCII, bounded."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError):
        text = repr(value)
    return _shorten(text)


def _lenient_b64(segment: str) -> bytes:
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


def _no_constants(name: str) -> Any:
    raise ValueError(f"non-standard number {name}")


def _lenient_object(segment: str, what: str) -> dict[str, Any]:
    """Decode a segment for display: duplicate names allowed (the last wins, as most parsers
    do); NaN and Infinity are not JSON anywhere and stay errors."""
    try:
        value = json.loads(_lenient_b64(segment).decode("utf-8"), parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise ValueError(f"the {what} is not UTF-8") from None
    except RecursionError:
        raise ValueError(f"the {what} is nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"the {what} is not base64url-encoded JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError(f"the {what} is not a JSON object")
    return value


def _numeric_date(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if abs(value) > MAX_NUMERIC_DATE:
        return None
    return value


def _iso(moment: datetime, integral: bool) -> str:
    return moment.isoformat(timespec="seconds" if integral else "milliseconds")


def _dates(value: float) -> tuple[str | None, str | None]:
    """ISO 8601 in UTC (with `Z`) and in the local zone; `None` outside what dates can show."""
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


def _relative(claim: str, value: float, at: float) -> str:
    delta = value - at
    if claim == "exp":
        return f"expires in {span(delta)}" if delta > 0 else f"expired {span(delta)} ago"
    if claim == "nbf":
        return f"valid in {span(delta)}" if delta > 0 else f"valid since {span(delta)} ago"
    return f"issued in {span(delta)} (in the future)" if delta > 0 else f"issued {span(delta)} ago"


@dataclass(frozen=True)
class TimeClaim:
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
class Report:
    """Everything `decode` found out about one token."""

    now: float
    leeway: float
    header: dict[str, Any] | None = None
    claims: dict[str, Any] | None = None
    times: dict[str, TimeClaim] = field(default_factory=dict)
    lifetime: float | None = None
    status: str = "malformed"  # valid | expired | not_yet_valid | no_expiry | malformed
    signature: str = "unchecked"  # verified | invalid | unchecked
    signature_detail: str = "not checked (no --key, --jwks or --secret-stdin)"
    key: SigningKey | None = None
    key_source: str | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def exit_code(self) -> int:
        if self.status == "malformed" or self.signature == "invalid":
            return EXIT_INVALID
        if self.status in ("expired", "not_yet_valid"):
            return EXIT_TIME
        return EXIT_VALID

    def as_json(self) -> dict[str, Any]:
        times: dict[str, Any] = {"now": self.now, "leeway": self.leeway}
        times.update({name: claim.as_json() for name, claim in self.times.items()})
        times["lifetime"] = self.lifetime
        key = None
        if self.key is not None:
            key = {"kid": self.key.kid, "alg": self.key.alg, "source": self.key_source}
        return {
            "header": self.header,
            "claims": self.claims,
            "times": times,
            "status": self.status,
            "signature": self.signature,
            "signature_detail": self.signature_detail,
            "key": key,
            "warnings": self.warnings,
            "error": self.error,
        }


def _strict_warnings(parts: list[str]) -> list[str]:
    """What a strict parser (Tessera's own) refuses that the lenient display decode accepted."""
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


def _header_warnings(header: dict[str, Any]) -> list[str]:
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
            f"the header has crit {_quote(header['crit'])}: verifiers must reject extensions "
            "they do not understand"
        )
    typ = header.get("typ")
    if typ is None:
        found.append('no typ: not marked as an access token ("at+jwt", RFC 9068); informational')
    elif not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
        found.append(
            f'typ is {_quote(typ)}, not "at+jwt": not an access token by RFC 9068; informational'
        )
    return found


def _time_checks(report: Report, claims: dict[str, Any]) -> None:
    at, leeway = report.now, report.leeway
    bad = False
    for name in TIME_CLAIMS:
        if name not in claims:
            continue
        value = _numeric_date(claims[name])
        if value is None:
            bad = True
            report.warnings.append(
                f"{name} is {_quote(claims[name])}: not a NumericDate (seconds since 1970)"
            )
            continue
        utc, local = _dates(value)
        report.times[name] = TimeClaim(
            name, value, utc, local, _relative(name, value, at), value - at
        )
    exp, nbf, iat = (report.times.get(n) for n in TIME_CLAIMS)
    if "exp" not in claims:
        report.warnings.append("no exp: this token never expires")
    if exp is not None and iat is not None:
        report.lifetime = exp.value - iat.value
        if report.lifetime > MAX_LIFETIME:
            report.warnings.append(f"lifetime is {span(report.lifetime)}: more than 24 h")
        elif report.lifetime <= 0:
            report.warnings.append("exp is not after iat: the token was never valid")
    if nbf is not None and nbf.value > at:
        report.warnings.append(f"nbf is in the future (valid in {span(nbf.value - at)})")
    if iat is not None and iat.value > at + leeway:
        report.warnings.append(
            f"iat is {span(iat.value - at)} in the future: the issuer's clock and this one disagree"
        )
    if bad:
        report.status = "malformed"
        report.error = "a time claim is not a NumericDate"
    elif nbf is not None and at + leeway < nbf.value:
        report.status = "not_yet_valid"
    elif exp is None:
        report.status = "no_expiry"
    elif at >= exp.value + leeway:
        report.status = "expired"
    else:
        report.status = "valid"


def _check(report: Report, token: str, keys: KeySet) -> None:
    header = report.header or {}
    candidates: tuple[SigningKey, ...] = keys.keys
    if keys.by_kid:
        kid = header.get("kid")
        if kid is None:
            if len(keys.keys) != 1:
                report.signature = "invalid"
                report.signature_detail = (
                    f"NOT verified: the token has no kid and {keys.source} has "
                    f"{len(keys.keys)} usable keys"
                )
                return
        else:
            candidates = tuple(k for k in keys.keys if k.kid == kid)
            if not candidates:
                skipped = f"; skipped: {'; '.join(keys.skipped)}" if keys.skipped else ""
                report.signature = "invalid"
                report.signature_detail = _shorten(
                    f"NOT verified: no usable key with kid {_quote(kid)} in {keys.source}" + skipped
                )
                return
    failure = "no key"
    for key in candidates:
        try:
            check_signature(token, key)
        except InvalidToken as exc:
            failure = exc.description
            continue
        report.signature = "verified"
        report.key, report.key_source = key, keys.source
        report.signature_detail = f"verified with {key.alg} key {key.kid} from {keys.source}"
        return
    report.signature = "invalid"
    report.signature_detail = _shorten(f"NOT verified: {failure}")


def examine(token: str, *, now: float, leeway: float = 0.0, keys: KeySet | None = None) -> Report:
    """Decode `token`, judge its times at `now`, and check its signature if `keys` are given."""
    report = Report(now=now, leeway=leeway)
    token = token.strip()
    if not token:
        report.error = "the token is empty"
        return report
    if len(token) > MAX_TOKEN_CHARS:
        report.error = f"the token is longer than {MAX_TOKEN_CHARS} characters"
        return report
    if not token.isascii():
        report.error = "the token contains characters that are not ASCII"
        return report
    parts = token.split(".")
    if len(parts) == 5:
        described = ""
        try:
            report.header = _lenient_object(parts[0], "header")
            described = f" (alg {_quote(report.header.get('alg'))}, enc "
            described += f"{_quote(report.header.get('enc'))})"
        except ValueError:
            pass
        report.error = f"this is an encrypted JWE{described}: it cannot be read without its key"
        return report
    if len(parts) != 3:
        report.error = f"a JWS has 3 dot-separated parts; this has {len(parts)}"
        return report
    try:
        report.header = _lenient_object(parts[0], "header")
        report.claims = _lenient_object(parts[1], "payload")
    except ValueError as exc:
        report.error = str(exc)
        return report
    report.warnings += _header_warnings(report.header)
    report.warnings += _strict_warnings(parts)
    _time_checks(report, report.claims)
    if keys is not None and report.status != "malformed":
        _check(report, token, keys)
    return report


# output -------------------------------------------------------------------------------------

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
        now_utc, _ = _dates(math.floor(report.now))
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


# the command --------------------------------------------------------------------------------


def _colour() -> bool | None:
    """`None` lets click decide (colour only on a terminal); NO_COLOR turns it off."""
    return False if os.environ.get("NO_COLOR") else None


def _error(message: str, code: int = EXIT_INVALID) -> typer.Exit:
    typer.echo(f"error: {terminal_safe(message)}", err=True, color=_colour())
    return typer.Exit(code)


def _stdin_bytes(limit: int) -> bytes:
    stream: BinaryIO | None = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise _error("there is no stdin to read from")
    return stream.read(limit)


def _stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _read_stdin_text() -> str:
    data = _stdin_bytes(MAX_TOKEN_CHARS + 2)
    return data.decode("utf-8", errors="replace")


def _read_secret() -> bytes:
    if _stdin_is_terminal():
        return getpass.getpass("HMAC secret: ").encode("utf-8")
    data = _stdin_bytes(MAX_KEY_BYTES + 1)
    if len(data) > MAX_KEY_BYTES:
        raise KeyInputError("the secret on stdin is larger than 1 MiB")
    # One trailing line end is how `echo` and files end; it is not part of the secret.
    if data.endswith(b"\r\n"):
        return data[:-2]
    return data[:-1] if data.endswith(b"\n") else data


def decode(
    token: Annotated[
        str | None,
        typer.Argument(
            metavar="TOKEN|-",
            help="The JWT; '-' (or no argument with piped input) reads it from stdin.",
            show_default=False,
        ),
    ] = None,
    jwks: Annotated[
        str | None,
        typer.Option(
            "--jwks",
            metavar="URL|FILE",
            help="Verify with the key from this JWKS that has the token's kid "
            "(a URL must be https, except for localhost).",
        ),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option("--key", metavar="PEM", help="Verify with this public key (PEM file)."),
    ] = None,
    secret_stdin: Annotated[
        bool,
        typer.Option(
            "--secret-stdin",
            help="Verify HS256 with a shared secret read from stdin (give the token as argument).",
        ),
    ] = False,
    leeway: Annotated[
        float,
        typer.Option("--leeway", metavar="SECONDS", min=0, help="Clock skew allowed."),
    ] = 0.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object, for scripts.")
    ] = False,
) -> None:
    """Decode a JWT locally: header, claims, dates, warnings, and optionally its signature.

    Exit status 0: valid (and the signature verified, if a key was given).
    Exit status 1: expired or not yet valid.
    Exit status 2: malformed, bad signature, or unusable key.

    Nothing is sent anywhere, except the request for a --jwks URL.
    """
    if sum((jwks is not None, key is not None, secret_stdin)) > 1:
        raise _error("give only one of --jwks, --key and --secret-stdin")
    if secret_stdin and token in (None, "-"):
        raise _error("--secret-stdin reads the secret from stdin: give the token as an argument")
    if token is None:
        if _stdin_is_terminal():
            raise _error("no token: give it as an argument, or '-' to read it from stdin")
        token = "-"
    text = _read_stdin_text() if token == "-" else token

    keys: KeySet | None = None
    try:
        if key is not None:
            keys = pem_key(key)
        elif secret_stdin:
            keys = secret_key(_read_secret())
        elif jwks is not None:
            keys = jwks_from(jwks)
    except KeyInputError as exc:
        raise _error(str(exc)) from None

    report = examine(text, now=now(), leeway=leeway, keys=keys)
    if as_json:
        typer.echo(render_json(report))
    else:
        typer.echo(render_text(report), color=_colour())
    if report.error is not None:
        typer.echo(f"error: {terminal_safe(report.error)}", err=True, color=_colour())
    raise typer.Exit(report.exit_code)
