"""What the scripts writing tests/inspection_cases.json share: the moment the cases are judged
at, and building tokens (unsigned: the signature segment is only ever parsed) and cases."""

from __future__ import annotations

import base64
import json
from typing import Any

NOW = 1_800_000_000  # 2027-01-15T08:00:00Z
AT = '{"alg":"ES256","kid":"k1","typ":"at+jwt"}'
VALID = f'{{"sub":"u","iat":{NOW - 48},"nbf":{NOW - 48},"exp":{NOW + 252}}}'
STRICT = "other parsers may read this token differently, and Tessera rejects it"
NO_TYP = 'no typ: not marked as an access token ("at+jwt", RFC 9068); informational'
NO_EXP = "no exp: this token never expires"
NOT_JSON = "the payload is not base64url-encoded JSON ("
KEY_WARNING = (
    'the header carries "{}": keys from the token are never used, and a verifier must never '
    "take them from there"
)


def b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jws(header: str, payload: str | bytes, signature: str = "c2ln") -> str:
    """A compact JWS of exactly these header and payload texts (unsigned: the signature
    segment is only ever parsed)."""
    return f"{b64(header)}.{b64(payload)}.{signature}"


def claims(**values: Any) -> str:
    return json.dumps(values, separators=(",", ":"))


def case(name: str, token: str, status: str, *warnings: str, **more: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "token": token, "status": status}
    entry["warnings"] = list(warnings)
    entry["error"] = more.pop("error", None)
    entry.update(more)
    return entry
