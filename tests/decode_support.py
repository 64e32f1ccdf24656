"""What the `tessera decode` tests share: a frozen clock, keys, tokens, and running the
command in-process through typer's runner."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from joserfc.jwk import OctKey

from tessera.cli import decode as decode_module
from tessera.cli.main import app
from tessera.tokens import (
    AccessTokenPolicy,
    SigningKey,
    generate_key,
)
from tessera.tokens.strict_json import b64url_encode

NOW = 1_800_000_000.0
POLICY = AccessTokenPolicy(issuer="https://auth.test", audience="tessera-tests")
SECRET = "a shared secret of well over thirty-two bytes"


# keys and tokens ----------------------------------------------------------------------------


def new_keys() -> dict[str, SigningKey]:
    """One fresh key per asymmetric algorithm."""
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


def freeze(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stop the command's clock at `NOW`."""
    monkeypatch.setattr(decode_module, "now", lambda: NOW)


def run(
    *args: str, input: str | None = None, color: bool = False, env: dict[str, str] | None = None
) -> Run:
    result = CliRunner().invoke(app, ["decode", *args], input=input, color=color, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return Run(result.exit_code, result.stdout, result.stderr)
