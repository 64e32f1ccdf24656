"""`tessera decode` checking signatures with keys the user names: a PEM public key, an HMAC
secret on stdin, a JWKS file or URL (fetched with the verifier's bounded fetcher, read by its
parser); and `tessera.hazmat`, the signature-only check behind it."""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import OctKey

from tessera.hazmat import check_signature
from tessera.inspect import KeyInputError, jwks_from, jwks_keys
from tessera.tokens import InvalidToken, SigningKey, from_secret, generate_key
from tessera.tokens.strict_json import b64url_encode
from tests.decode_support import (
    NOW,
    SECRET,
    claims,
    freeze,
    hs256,
    mint,
    new_keys,
    public_pem,
    run,
)


@pytest.fixture(scope="module")
def keys() -> dict[str, SigningKey]:
    return new_keys()


@pytest.fixture(autouse=True)
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    freeze(monkeypatch)


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
