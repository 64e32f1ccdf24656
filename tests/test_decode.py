"""`tessera decode`: decoding, dates, warnings, exit codes, output; in-process through typer's
runner with a frozen clock, plus one run of the real console script. Signatures and keys:
test_decode_keys.py."""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

import tessera
from tessera.inspect import examine, span
from tessera.tokens import SigningKey
from tessera.tokens.strict_json import StrictJSONError, b64url_decode, b64url_encode
from tests.decode_support import (
    NOW,
    claims,
    freeze,
    mint,
    new_keys,
    public_pem,
    run,
    segment,
    unsigned,
)

SCRIPT = Path(sys.executable).with_name("tessera")
JSON_KEYS = {
    "kind",
    "bound_to",
    "proof",
    "header",
    "claims",
    "times",
    "status",
    "signature",
    "signature_detail",
    "key",
    "warnings",
    "error",
}
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
NONE = b64url_encode(b'{"alg":"none"}')
NAN_PAYLOAD = b64url_encode(b'{"exp": NaN}')
INDIA = timezone(timedelta(hours=5, minutes=30))


@pytest.fixture(scope="module")
def keys() -> dict[str, SigningKey]:
    return new_keys()


@pytest.fixture(autouse=True)
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    freeze(monkeypatch)


@pytest.fixture
def india_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time UTC+05:30 (a POSIX TZ string, no tz database needed), so local ≠ UTC."""
    monkeypatch.setenv("TZ", "XST-05:30")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def utc_iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# decoding and times ---------------------------------------------------------------------------


def test_valid_token_shows_header_claims_and_dates(
    keys: dict[str, SigningKey], india_time: None
) -> None:
    token = mint(keys["ES256"], issued=NOW - 48, ttl=300)  # exp = NOW + 252 s
    result = run(token)
    assert result.code == 0, result
    exp, iat = NOW + 252, NOW - 48
    assert utc_iso(exp) in result.out and utc_iso(iat) in result.out
    local_exp = datetime.fromtimestamp(exp, INDIA).isoformat()
    assert local_exp.endswith("+05:30") and local_exp in result.out
    assert "expires in 4 m 12 s" in result.out
    assert "issued 48 s ago" in result.out
    assert "5 m (300 s, exp - iat)" in result.out
    assert f'"kid": "{keys["ES256"].kid}"' in result.out
    assert '"sub": "user-1"' in result.out
    status = result.out.rstrip().splitlines()[-1]
    assert status.startswith("VALID (expires in 4 m 12 s); signature not checked"), status
    assert "Warnings" not in result.out
    assert result.err == ""


def test_token_read_from_stdin_dash_or_without_argument(keys: dict[str, SigningKey]) -> None:
    token = mint(keys["ES256"])
    assert run("-", input=token + "\n").code == 0
    assert run(input=f"  {token}\r\n").code == 0


def test_expired_token_exits_1(keys: dict[str, SigningKey]) -> None:
    token = mint(keys["ES256"], issued=NOW - 3 * 3600 - 900, ttl=900)
    result = run(token)
    assert result.code == 1, result
    assert "expired 3 h ago" in result.out
    assert result.out.rstrip().splitlines()[-1].startswith("EXPIRED (expired 3 h ago)")


def test_leeway_applies_to_expiry(keys: dict[str, SigningKey]) -> None:
    token = mint(keys["ES256"], issued=NOW - 905, ttl=900)  # expired 5 s ago
    assert run(token).code == 1
    assert run("--leeway", "10", token).code == 0
    assert run("--leeway", "-1", token).code == 2


def test_not_yet_valid_exits_1(keys: dict[str, SigningKey]) -> None:
    token = mint(keys["ES256"], issued=NOW + 600, ttl=900)
    result = run(token)
    assert result.code == 1, result
    assert "NOT YET VALID (valid in 10 m)" in result.out
    assert "nbf is in the future (valid in 10 m)" in result.out
    assert "iat is 10 m in the future" in result.out
    assert run("--json", token).json()["status"] == "not_yet_valid"


def test_span_keeps_two_largest_units() -> None:
    assert span(252) == "4 m 12 s"
    assert span(3 * 3600 + 5) == "3 h"
    assert span(90061) == "1 d 1 h"
    assert span(-59.6) == "1 m"
    assert span(0.2) == "0 s"


def test_examine_takes_the_clock_as_an_argument(keys: dict[str, SigningKey]) -> None:
    token = mint(keys["ES256"], issued=NOW, ttl=900)
    assert examine(token, now=NOW + 899).status == "valid"
    assert examine(token, now=NOW + 900).status == "expired"
    assert examine(token, now=NOW + 900, leeway=1).status == "valid"
    assert examine(token, now=NOW - 1).status == "not_yet_valid"


# malformed input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "empty"),
        ("not-a-token", "3 dot-separated parts; this has 1"),
        ("a.b", "this has 2"),
        ("!!!.e30.", "not base64url"),
        (f"{NONE}.Zm9v.", "payload is not base64url-encoded JSON"),
        (f"{NONE}.W10.", "payload is not a JSON object"),
        (f"{NONE}.{NAN_PAYLOAD}.", "NaN"),
        (f"{NONE}.{b64url_encode(b'[' * 5000)}.", "nested too deeply"),
        ("é.e30.", "not ASCII"),
    ],
)
def test_malformed_exits_2_with_a_message(token: str, message: str) -> None:
    result = run(token)
    assert result.code == 2, result
    assert result.err.startswith("error: ") and message in result.err, result
    as_json = run("--json", token)
    assert as_json.code == 2
    body = as_json.json()
    assert body["status"] == "malformed" and message in body["error"]


def test_time_claim_that_is_not_a_number_is_malformed() -> None:
    token = unsigned({"alg": "none"}, claims(exp="tomorrow"))
    result = run(token)
    assert result.code == 2, result
    assert 'exp is "tomorrow": not a NumericDate' in result.out


def test_jwe_is_detected_and_not_decoded() -> None:
    header = segment({"alg": "RSA-OAEP", "enc": "A256GCM"})
    result = run(f"{header}.a2V5.aXY.Y2lwaGVy.dGFn")
    assert result.code == 2, result
    assert "encrypted JWE" in result.err and '"A256GCM"' in result.err
    assert "without its key" in result.err


# warnings -------------------------------------------------------------------------------------


def test_alg_none_warns_and_fails_with_a_key(keys: dict[str, SigningKey], tmp_path: Path) -> None:
    token = unsigned({"alg": "none", "typ": "at+jwt"}, claims())
    result = run(token)
    assert result.code == 0, result
    assert 'alg is "none": the token is not signed at all' in result.out
    with_key = run("--key", str(public_pem(keys["RS256"], tmp_path)), token)
    assert with_key.code == 2, with_key
    assert "signature NOT verified" in with_key.out


def test_missing_exp_warns_and_reports_no_expiry() -> None:
    token = unsigned({"alg": "none", "typ": "at+jwt"}, claims(exp=None))
    result = run(token)
    assert result.code == 0, result
    assert "no exp: this token never expires" in result.out
    assert result.out.rstrip().splitlines()[-1].startswith("NO EXPIRY")
    assert run("--json", token).json()["status"] == "no_expiry"


def test_lifetime_over_a_day_warns(keys: dict[str, SigningKey]) -> None:
    result = run(mint(keys["ES256"], ttl=2 * 86400))
    assert result.code == 0, result
    assert "lifetime is 2 d: more than 24 h" in result.out
    assert "more than 24 h" not in run(mint(keys["ES256"], ttl=86400)).out


def test_header_warnings() -> None:
    header = {
        "alg": "none",
        "typ": "JWT",
        "jku": "https://evil.test/jwks",
        "x5u": "https://evil.test/cert",
        "jwk": {"kty": "oct", "k": "AAAA"},
        "x5c": ["MIIB"],
        "crit": ["exp"],
    }
    warnings = run("--json", unsigned(header, claims())).json()["warnings"]
    text = "\n".join(warnings)
    for name in ("jku", "x5u", "jwk", "x5c"):
        assert f'the header carries "{name}": keys from the token are never used' in text
    assert 'the header has crit ["exp"]' in text
    assert 'typ is "JWT", not "at+jwt"' in text
    no_typ = run("--json", unsigned({"alg": "none"}, claims())).json()["warnings"]
    assert any(w.startswith("no typ") for w in no_typ)


def test_duplicate_members_warn_and_show_the_last(keys: dict[str, SigningKey]) -> None:
    header = b64url_encode(b'{"alg":"none","typ":"at+jwt","alg":"ES256"}')
    token = f"{header}.{segment(claims())}."
    body = run("--json", token).json()
    assert body["header"]["alg"] == "ES256"
    assert any(
        "header fails strict parsing (duplicate member 'alg')" in w for w in body["warnings"]
    )
    payload = b64url_encode(b'{"sub":"a","sub":"b","exp":1800000060}')
    body = run("--json", f"{segment({'alg': 'none'})}.{payload}.").json()
    assert body["claims"]["sub"] == "b"
    assert any("payload fails strict parsing" in w for w in body["warnings"])


def test_non_canonical_base64url_warns() -> None:
    extra = ""
    while len(segment(claims(pad=extra))) % 4 not in (2, 3):
        extra += "x"
    canonical = segment(claims(pad=extra))
    sloppy = canonical[:-1] + B64URL[B64URL.index(canonical[-1]) + 1]
    with pytest.raises(StrictJSONError):
        b64url_decode(sloppy)
    header = segment({"alg": "none", "typ": "at+jwt"})
    for token in (f"{header}.{sloppy}.", f"{header}.{canonical}==."):
        result = run("--json", token)
        assert result.code == 0, result
        body = result.json()
        assert body["claims"]["pad"] == extra
        assert any("payload fails strict parsing" in w for w in body["warnings"]), body


# --json ---------------------------------------------------------------------------------------


def test_json_output_shape(keys: dict[str, SigningKey]) -> None:
    key = keys["ES256"]
    token = mint(key, issued=NOW - 60, ttl=900)
    result = run("--json", token)
    assert result.code == 0, result
    body = result.json()
    assert set(body) == JSON_KEYS
    assert body["header"] == {"alg": "ES256", "kid": key.kid, "typ": "at+jwt"}
    assert body["claims"]["exp"] == NOW - 60 + 900
    assert body["status"] == "valid" and body["signature"] == "unchecked"
    assert body["warnings"] == [] and body["error"] is None and body["key"] is None
    times = body["times"]
    assert times["now"] == NOW and times["leeway"] == 0 and times["lifetime"] == 900
    assert times["exp"]["utc"] == utc_iso(NOW + 840)
    assert times["exp"]["relative"] == "expires in 14 m"
    assert times["exp"]["from_now"] == 840
    assert times["iat"]["relative"] == "issued 1 m ago"
    assert set(times["nbf"]) == {"value", "utc", "local", "relative", "from_now"}


# output safety --------------------------------------------------------------------------------


def test_colour_only_on_request_and_never_with_no_color(keys: dict[str, SigningKey]) -> None:
    token = mint(keys["ES256"], ttl=2 * 86400)
    assert "\x1b" not in run(token).out
    assert "\x1b[" in run(token, color=True).out
    assert "\x1b" not in run(token, color=True, env={"NO_COLOR": "1"}).out


def test_hostile_claims_cannot_drive_the_terminal() -> None:
    hostile = "\x1b[2J\u009b31m\u202egnp.exe\u2028"
    token = unsigned({"alg": "none", "typ": hostile}, claims(name=hostile))
    result = run(token, color=True)
    for char in ("\x1b[2J", "\u009b", "\u202e", "\u2028"):
        assert char not in result.out
    assert "\\u202e" in result.out and "\\u009b" in result.out


@pytest.mark.slow
def test_console_script_reads_the_token_from_stdin(keys: dict[str, SigningKey]) -> None:
    assert SCRIPT.exists(), SCRIPT
    token = mint(keys["ES256"], issued=time.time(), ttl=3600)
    done = subprocess.run(
        [str(SCRIPT), "decode", "-"],
        input=token + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert '"sub": "user-1"' in done.stdout
    assert "VALID (expires in " in done.stdout
    assert "\x1b" not in done.stdout


# the light install ----------------------------------------------------------------------------

HEAVY = {"fastapi", "starlette", "sqlalchemy", "asyncpg", "argon2", "alembic", "pydantic"}
HEAVY |= {"pydantic_settings", "uvicorn", "redis", "limits", "prometheus_client", "aiosqlite"}
SERVER_PARTS = ("http", "oauth", "service", "settings", "store", "sessions", "users", "keys")


def source_of(name: str) -> Path | None:
    """The file of Tessera's module `name`, or `None` if it is not a module (a class, say)."""
    base = Path(tessera.__file__).parent.parent / name.replace(".", "/")
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def imported_modules(path: Path) -> set[str]:
    """Every module a source file imports (absolute imports; Tessera's code uses no others)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if source_of(f"{node.module}.{alias.name}") is not None
            )
    return found


def test_the_inspection_core_imports_nothing_of_the_server() -> None:
    """`tessera decode` belongs to the light install: following the imports of the decode
    command, `tessera.inspect` and `tessera.hazmat` (statically, module by module) reaches no
    web framework, ORM, driver, hasher or server part. (That the package roots above them
    import nothing heavy is the light install's own test.)"""
    seen: set[str] = set()
    pending = ["tessera.cli.decode", "tessera.inspect", "tessera.hazmat"]
    outside: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        path = source_of(name)
        assert path is not None, name
        for module in imported_modules(path):
            if module.startswith("tessera."):
                pending.append(module)
            else:
                outside.add(module.split(".")[0])
    assert "tessera.inspect.examine" in seen and "tessera.tokens.jwk" in seen
    assert not outside & HEAVY, outside & HEAVY
    server = {m for m in seen if m.split(".")[1] in SERVER_PARTS}
    assert not server, server
