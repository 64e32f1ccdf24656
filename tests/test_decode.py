"""`tessera decode`: decoding, dates, warnings, exit codes, and signature checks with keys the
user names (PEM, HMAC secret on stdin, JWKS file or URL). In-process through typer's runner with
a frozen clock, plus one run of the real console script."""

from __future__ import annotations

import ast
import contextlib
import hashlib
import hmac
import http.server
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import OctKey
from typer.testing import CliRunner

import tessera
from tessera.cli import decode as decode_module
from tessera.cli.main import app
from tessera.hazmat import check_signature
from tessera.inspect import KeyInputError, examine, jwks_from, jwks_keys, span
from tessera.tokens import (
    AccessTokenPolicy,
    InvalidToken,
    SigningKey,
    from_secret,
    generate_key,
)
from tessera.tokens.strict_json import StrictJSONError, b64url_decode, b64url_encode

NOW = 1_800_000_000.0
POLICY = AccessTokenPolicy(issuer="https://auth.test", audience="tessera-tests")
SCRIPT = Path(sys.executable).with_name("tessera")
SECRET = "a shared secret of well over thirty-two bytes"
JSON_KEYS = {
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


# keys and tokens ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys() -> dict[str, SigningKey]:
    return {alg: generate_key(alg) for alg in ("RS256", "ES256", "EdDSA")}


def mint(key: SigningKey, issued: float = NOW, ttl: float = 900) -> str:
    token, _ = POLICY.mint(key, sub="user-1", role="user", sid="sess-1", now=issued, ttl=ttl)
    return token


def segment(value: dict[str, Any]) -> str:
    return b64url_encode(json.dumps(value, separators=(",", ":")).encode())


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: str = "") -> str:
    return f"{segment(header)}.{segment(claims)}.{signature}"


def claims(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": "https://auth.test",
        "sub": "user-1",
        "iat": NOW,
        "exp": NOW + 60,
    }
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def hs256(header: dict[str, Any], body: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{segment(header)}.{segment(body)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url_encode(mac)}"


def public_pem(key: SigningKey, directory: Path) -> Path:
    path = directory / f"{key.alg}.pem"
    assert not isinstance(key.key, OctKey)
    path.write_bytes(key.key.as_pem(private=False))
    return path


# running the command ------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"

    def json(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.out)
        return value


@pytest.fixture(autouse=True)
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decode_module, "now", lambda: NOW)


@pytest.fixture
def india_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time UTC+05:30 (a POSIX TZ string, no tz database needed), so local ≠ UTC."""
    monkeypatch.setenv("TZ", "XST-05:30")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def run(
    *args: str, input: str | None = None, color: bool = False, env: dict[str, str] | None = None
) -> Run:
    result = CliRunner().invoke(app, ["decode", *args], input=input, color=color, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return Run(result.exit_code, result.stdout, result.stderr)


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


# signatures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_pem_key_verifies(alg: str, keys: dict[str, SigningKey], tmp_path: Path) -> None:
    key = keys[alg]
    token = mint(key)
    result = run("--key", str(public_pem(key, tmp_path)), token)
    assert result.code == 0, result
    assert f"signature verified with {alg} key {key.kid}" in result.out
    body = run("--json", "--key", str(public_pem(key, tmp_path)), token).json()
    assert body["signature"] == "verified"
    assert body["key"] == {"kid": key.kid, "alg": alg, "source": f"--key {tmp_path}/{alg}.pem"}


def test_private_pem_works_with_a_note(keys: dict[str, SigningKey], tmp_path: Path) -> None:
    key = keys["EdDSA"]
    assert not isinstance(key.key, OctKey)
    pem = tmp_path / "private.pem"
    pem.write_bytes(key.key.as_pem(private=True))
    result = run("--key", str(pem), mint(key))
    assert result.code == 0, result
    assert "holds a private key" in result.err


def test_wrong_pem_key_exits_2(keys: dict[str, SigningKey], tmp_path: Path) -> None:
    token = mint(keys["ES256"])
    other = generate_key("ES256")
    result = run("--key", str(public_pem(other, tmp_path)), token)
    assert result.code == 2, result
    assert "INVALID SIGNATURE" in result.out
    assert "signature NOT verified: signature does not verify" in result.out
    different_type = run("--key", str(public_pem(keys["RS256"], tmp_path)), token)
    assert different_type.code == 2
    assert "the key is RS256" in different_type.out


def test_bad_signature_beats_expiry(keys: dict[str, SigningKey], tmp_path: Path) -> None:
    token = mint(keys["ES256"], issued=NOW - 7200)
    result = run("--json", "--key", str(public_pem(generate_key("ES256"), tmp_path)), token)
    assert result.code == 2
    assert result.json()["status"] == "expired" and result.json()["signature"] == "invalid"


def test_unusable_key_files_exit_2(tmp_path: Path, keys: dict[str, SigningKey]) -> None:
    token = mint(keys["ES256"])
    missing = run("--key", str(tmp_path / "nope.pem"), token)
    assert missing.code == 2 and "cannot read key file" in missing.err
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    result = run("--key", str(junk), token)
    assert result.code == 2 and "is not a PEM file" in result.err, result
    p384 = tmp_path / "p384.pem"
    p384.write_bytes(
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    unsupported = run("--key", str(p384), token)
    assert unsupported.code == 2 and "supported key types" in unsupported.err, unsupported
    both = run("--key", str(junk), "--jwks", str(junk), token)
    assert both.code == 2 and "only one of" in both.err


def test_hmac_secret_from_stdin() -> None:
    key = from_secret(SECRET.encode())
    token = mint(key)
    result = run("--secret-stdin", token, input=SECRET + "\n")
    assert result.code == 0, result
    assert "signature verified with HS256" in result.out
    wrong = run("--secret-stdin", token, input="another secret that is long enough, too\n")
    assert wrong.code == 2 and "signature NOT verified" in wrong.out, wrong
    short = run("--secret-stdin", token, input="short\n")
    assert short.code == 2 and "at least 32 bytes" in short.err, short
    from_stdin = run("--secret-stdin", "-", input=SECRET)
    assert from_stdin.code == 2 and "give the token as an argument" in from_stdin.err


def write_jwks(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"keys": entries}))
    return path


def test_jwks_file_picks_the_key_by_kid(keys: dict[str, SigningKey], tmp_path: Path) -> None:
    entries: list[dict[str, Any]] = [
        {"kty": "oct", "kid": "hmac", "k": b64url_encode(SECRET.encode())},  # skipped
        {**(keys["EdDSA"].public_jwk() or {}), "use": "enc"},  # skipped
        {"kty": "EC", "crv": "P-256", "x": "junk", "y": "junk", "kid": "broken"},  # skipped
        keys["RS256"].public_jwk() or {},
        keys["ES256"].public_jwk() or {},
    ]
    jwks = str(write_jwks(tmp_path / "jwks.json", entries))
    for alg in ("RS256", "ES256"):
        result = run("--jwks", jwks, mint(keys[alg]))
        assert result.code == 0, result
        assert f"signature verified with {alg} key {keys[alg].kid} from JWKS file" in result.out
    unknown = run("--jwks", jwks, mint(keys["EdDSA"]))
    assert unknown.code == 2, unknown
    assert f'no usable key with kid "{keys["EdDSA"].kid}"' in unknown.out
    empty = run(
        "--jwks", str(write_jwks(tmp_path / "empty.json", entries[:3])), mint(keys["ES256"])
    )
    assert empty.code == 2 and "no usable signature key" in empty.err, empty


def test_jwks_rules_are_the_verifiers(keys: dict[str, SigningKey], tmp_path: Path) -> None:
    """The verifier's JWKS parser: a kid seen twice means the first entry; the second is
    listed among the skipped ones."""
    impostor = generate_key("ES256")
    real = keys["ES256"]
    entries = [
        {**(impostor.public_jwk() or {}), "kid": real.kid},
        real.public_jwk() or {},
        {**(keys["RS256"].public_jwk() or {}), "kid": "rsa"},
    ]
    jwks = str(write_jwks(tmp_path / "jwks.json", entries))
    result = run("--json", "--jwks", jwks, mint(real))
    assert result.code == 2, result
    assert result.json()["signature_detail"] == "NOT verified: signature does not verify"
    skipped = jwks_keys(Path(jwks).read_bytes(), "the JWKS").skipped
    assert skipped == (f'"{real.kid}": a duplicate kid: the first entry with it is used',)


def test_hazmat_checks_the_signature_and_nothing_else(keys: dict[str, SigningKey]) -> None:
    """Why it is hazardous: a token expired a year ago, for nobody, passes."""
    key = keys["ES256"]
    stale = mint(key, issued=NOW - 366 * 86400)
    check_signature(stale, key)
    with pytest.raises(InvalidToken, match="does not verify"):
        check_signature(stale, generate_key("ES256"))
    with pytest.raises(InvalidToken, match="the key is RS256"):
        check_signature(stale, keys["RS256"])


class _JWKSHandler(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[dict[str, bytes]] = {}
    authorizations: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        if "Authorization" in self.headers:
            self.authorizations.append(self.headers["Authorization"])
        body = self.bodies.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if not self.path.startswith("/stream"):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)  # the client may stop reading at its size cap

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def jwks_server(keys: dict[str, SigningKey]) -> Iterator[str]:
    _JWKSHandler.authorizations = []
    _JWKSHandler.bodies = {
        "/jwks.json": json.dumps({"keys": [keys["EdDSA"].public_jwk()]}).encode(),
        "/huge.json": b" " * (1024 * 1024 + 1),
        "/stream-huge.json": b" " * (1024 * 1024 + 1),  # no Content-Length: read until close
    }
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _JWKSHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.slow
def test_jwks_url(jwks_server: str, keys: dict[str, SigningKey]) -> None:
    token = mint(keys["EdDSA"])
    result = run("--jwks", f"{jwks_server}/jwks.json", token)
    assert result.code == 0, result
    assert f"signature verified with EdDSA key {keys['EdDSA'].kid} from JWKS http://" in result.out
    missing = run("--jwks", f"{jwks_server}/nope.json", token)
    assert missing.code == 2 and "answered HTTP 404" in missing.err, missing
    for path in ("/huge.json", "/stream-huge.json"):
        huge = run("--jwks", f"{jwks_server}{path}", token)
        assert huge.code == 2 and "larger than 1048576 bytes" in huge.err, huge


@pytest.fixture
def dripping_server() -> Iterator[str]:
    """A server that answers "200 OK" and then one byte of headers every 0.1 s, forever: every
    read is quick, so only a deadline on the whole request ends it."""
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)

    def drip() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn, contextlib.suppress(OSError):
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                while not stop.wait(0.1):
                    conn.sendall(b"a")

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/jwks.json"
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.mark.slow
def test_a_dripping_jwks_server_is_cut_off_at_the_deadline(dripping_server: str) -> None:
    started = time.monotonic()
    with pytest.raises(KeyInputError, match="no complete answer within 1 s"):
        jwks_from(dripping_server, timeout=1.0)
    assert time.monotonic() - started < 3


@pytest.mark.slow
def test_jwks_url_credentials_go_as_basic_auth_and_never_into_messages(
    jwks_server: str, keys: dict[str, SigningKey]
) -> None:
    with_credentials = jwks_server.replace("http://", "http://reader:hunter2@")
    token = mint(keys["EdDSA"])
    result = run("--jwks", f"{with_credentials}/jwks.json", token)
    assert result.code == 0, result
    assert _JWKSHandler.authorizations == ["Basic cmVhZGVyOmh1bnRlcjI="]  # reader:hunter2
    assert "hunter2" not in result.out and "JWKS http://***@127.0.0.1" in result.out
    missing = run("--jwks", f"{with_credentials}/nope.json", token)
    assert missing.code == 2 and "http://***@127.0.0.1" in missing.err, missing
    assert "hunter2" not in missing.err + missing.out


def test_jwks_url_must_be_https_unless_local(keys: dict[str, SigningKey]) -> None:
    result = run("--jwks", "http://jwks.example.invalid/keys", mint(keys["EdDSA"]))
    assert result.code == 2 and "must be https" in result.err, result


def test_algorithm_confusion_is_refused(keys: dict[str, SigningKey], tmp_path: Path) -> None:
    rsa = keys["RS256"]
    pem = public_pem(rsa, tmp_path)
    header = {"alg": "HS256", "kid": rsa.kid, "typ": "at+jwt"}
    forged = hs256(header, claims(), pem.read_bytes())
    result = run("--key", str(pem), forged)
    assert result.code == 2, result
    assert "alg is 'HS256'; the key is RS256" in result.out
    jwks = write_jwks(tmp_path / "jwks.json", [rsa.public_jwk() or {}])
    assert run("--jwks", str(jwks), forged).code == 2
    as_secret = run("--secret-stdin", forged, input=pem.read_text())
    assert as_secret.code == 2, as_secret
    assert "not a shared secret" in as_secret.err.lower()


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
