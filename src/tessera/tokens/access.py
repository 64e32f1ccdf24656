"""Access-token policy: the claims Tessera puts in a token and every check it makes on one.

One implementation for the auth server and for every `Verifier`: RFC 8725 strictly. The order
of checks matters: size first (before any base64 or JSON work), then the header, then the key
bound to its `kid`, then the signature, and only then the claims.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tessera.tokens.jwk import KID_PATTERN, SigningKey
from tessera.tokens.strict_json import (
    StrictJSONError,
    b64url_decode,
    b64url_encode,
    dumps_compact,
    loads_object,
)

TOKEN_TYPE = "at+jwt"
# Header parameters Tessera understands. Anything else (jwk, jku, x5u, x5c, crit, b64, zip,
# enc, …) is refused rather than ignored: a header never supplies a key or changes processing.
ALLOWED_HEADER = frozenset({"alg", "kid", "typ"})
STRING_CLAIMS = ("iss", "sub", "role", "sid", "jti")
TIME_CLAIMS = ("iat", "nbf", "exp")
# What Tessera's own tokens always carry, and the minimum RFC 9068 asks of any issuer's
# (`exp` and `iat` are required in every profile: no token without an end, or a lifetime).
TESSERA_CLAIMS = frozenset(STRING_CLAIMS + TIME_CLAIMS)
RFC9068_CLAIMS = frozenset({"iss", "sub", "jti", "iat", "exp"})
ACCESS_TOKEN_TYPES = (TOKEN_TYPE, "application/" + TOKEN_TYPE)
NAME_CLAIM = "preferred_username"  # OpenID Connect's: the name to show, not an identifier
JKT_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")  # an RFC 7638 SHA-256 thumbprint, base64url
MAX_NUMERIC_DATE = 2**53  # beyond this a NumericDate is not a time, and floats lose precision
# The longest string a Tessera token carries anywhere (its subjects are at most 255, roles 100,
# session ids and jtis far less): a longer one was not minted under Tessera's policy.
MAX_CLAIM_LENGTH = 256


class InvalidToken(Exception):
    """A token that must not be accepted. `reason` is a short code; all map to RFC 6750
    `invalid_token`."""

    def __init__(self, reason: str, description: str | None = None) -> None:
        super().__init__(description or reason.replace("_", " "))
        self.reason = reason
        self.description = description or reason.replace("_", " ")


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The verified claims of an access token."""

    sub: str
    role: str
    sid: str
    jti: str
    iss: str
    aud: str | list[str]
    iat: float
    nbf: float
    exp: float
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def jkt(self) -> str | None:
        """The thumbprint of the key this token is bound to (`cnf.jkt`, RFC 9449 §6), if any:
        such a token is accepted only with a DPoP proof signed by that key."""
        cnf = self.extra.get("cnf")
        jkt = cnf.get("jkt") if isinstance(cnf, Mapping) else None
        return jkt if isinstance(jkt, str) else None

    @property
    def name(self) -> str | None:
        """The name to show for the user (`preferred_username`), if the token carries one.
        For display only: `sub` is who the user is; a name may change or be reused."""
        name = self.extra.get(NAME_CLAIM)
        return name if isinstance(name, str) else None

    def as_dict(self) -> dict[str, Any]:
        claims: dict[str, Any] = dict(self.extra)
        claims.update(
            iss=self.iss,
            aud=self.aud,
            sub=self.sub,
            role=self.role,
            sid=self.sid,
            jti=self.jti,
            iat=self.iat,
            nbf=self.nbf,
            exp=self.exp,
        )
        return claims


KeyLookup = Callable[[str], SigningKey | None]


@dataclass(frozen=True)
class AccessTokenPolicy:
    """What an access token must look like for this issuer and audience.

    `max_lifetime` bounds both `exp - iat` and the age of `iat` (the auth server sets it to
    its own access-token TTL plus leeway: a token signed by its key but minted for longer, or
    long ago, is refused). `max_claim_length` bounds every string in the claims, at any depth
    (`None`: no bound, for another issuer's long `scope` strings)."""

    issuer: str
    audience: str
    leeway: float = 10.0
    max_lifetime: float = 86400.0
    max_claim_length: int | None = MAX_CLAIM_LENGTH
    max_bytes: int = 8192
    required: frozenset[str] = TESSERA_CLAIMS
    token_types: tuple[str, ...] = ACCESS_TOKEN_TYPES
    # Minted into every token as `client_id` (RFC 9068 requires it): the one first-party
    # client that all of this issuer's sessions belong to.
    client_id: str | None = None

    def mint(
        self,
        key: SigningKey,
        *,
        sub: str,
        role: str,
        sid: str,
        now: float,
        ttl: float,
        jkt: str | None = None,
        name: str | None = None,
    ) -> tuple[str, AccessClaims]:
        """Sign a new access token valid from `now` for `ttl` seconds (bound to the DPoP key
        whose thumbprint is `jkt`, when given; naming the user `name`, when given)."""
        issued = int(now)
        extra: dict[str, Any] = {"client_id": self.client_id} if self.client_id else {}
        if name is not None:
            extra[NAME_CLAIM] = name
        if jkt is not None:
            extra["cnf"] = {"jkt": jkt}
        claims = AccessClaims(
            sub=sub,
            role=role,
            sid=sid,
            jti=secrets.token_urlsafe(16),
            iss=self.issuer,
            aud=self.audience,
            iat=issued,
            nbf=issued,
            exp=issued + max(1, math.ceil(ttl)),
            extra=extra,
        )
        header = {"alg": key.alg, "kid": key.kid, "typ": TOKEN_TYPE}
        signing_input = (
            b64url_encode(dumps_compact(header))
            + "."
            + b64url_encode(dumps_compact(claims.as_dict()))
        )
        signature = key.sign(signing_input.encode("ascii"))
        return signing_input + "." + b64url_encode(signature), claims

    def verify(self, token: object, keys: KeyLookup, now: float) -> AccessClaims:
        """Check everything; return the claims or raise `InvalidToken` (and nothing else)."""
        if not isinstance(token, str):
            raise InvalidToken("malformed", "token is not a string")
        if len(token) > self.max_bytes:
            raise InvalidToken("too_large", "token is too large")
        if not token.isascii():
            raise InvalidToken("malformed", "token is not ASCII")
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidToken("malformed", "token is not a JWS in compact form")
        header_segment, payload_segment, signature_segment = parts
        try:
            header = loads_object(b64url_decode(header_segment))
            signature = b64url_decode(signature_segment)
        except StrictJSONError as exc:
            raise InvalidToken("malformed", f"bad header or signature: {exc}") from None
        key = self._key_for(header, keys)
        signing_input = (header_segment + "." + payload_segment).encode("ascii")
        try:
            valid = key.verify(signing_input, signature)
        except Exception:  # noqa: BLE001 - a library failure on hostile input is a bad signature
            valid = False
        if not valid:
            raise InvalidToken("bad_signature", "signature does not verify")
        try:
            payload = loads_object(b64url_decode(payload_segment))
        except StrictJSONError as exc:
            raise InvalidToken("malformed", f"bad payload: {exc}") from None
        return self._claims(payload, now)

    def _key_for(self, header: dict[str, Any], keys: KeyLookup) -> SigningKey:
        unknown = header.keys() - ALLOWED_HEADER
        if unknown:
            raise InvalidToken(
                "unsupported_header",
                "header parameters not accepted: " + ", ".join(sorted(unknown)),
            )
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in self.token_types:
            raise InvalidToken("wrong_type", "token is not an access token (typ at+jwt)")
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or not isinstance(kid, str):
            raise InvalidToken("malformed", "header needs alg and kid")
        if not KID_PATTERN.fullmatch(kid):
            raise InvalidToken("unknown_key", "kid is not a key of this issuer")
        key = keys(kid)
        if key is None:
            raise InvalidToken("unknown_key", "kid is not a key of this issuer")
        if alg != key.alg:
            raise InvalidToken("wrong_algorithm", "alg is not the algorithm bound to this key")
        return key

    def _claims(self, payload: dict[str, Any], now: float) -> AccessClaims:
        if self.max_claim_length is not None and _longest_string(payload) > self.max_claim_length:
            raise InvalidToken(
                "invalid_claim", f"a claim is longer than {self.max_claim_length} characters"
            )
        strings: dict[str, str] = {}
        for name in STRING_CLAIMS:
            value = payload.get(name)
            if value is None and name not in self.required:
                strings[name] = ""
            elif not isinstance(value, str) or not value:
                raise InvalidToken("invalid_claim", f"claim {name!r} missing or not a string")
            else:
                strings[name] = value
        times: dict[str, float] = {}
        for name in TIME_CLAIMS:
            value = payload.get(name)
            if value is None and name == "nbf" and name not in self.required:
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or (isinstance(value, float) and not math.isfinite(value))
                or abs(value) > MAX_NUMERIC_DATE
            ):
                raise InvalidToken("invalid_claim", f"claim {name!r} missing or not a NumericDate")
            times[name] = value
        if strings["iss"] != self.issuer:
            raise InvalidToken("wrong_issuer", "token is from another issuer")
        aud = payload.get("aud")
        if isinstance(aud, str):
            audience_ok = aud == self.audience
        elif isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
            audience_ok = self.audience in aud
        else:
            raise InvalidToken("invalid_claim", "claim 'aud' missing or malformed")
        if not audience_ok:
            raise InvalidToken("wrong_audience", "token is for another audience")
        exp, iat = times["exp"], times["iat"]
        nbf = times.get("nbf", iat)
        if exp <= iat or exp - iat > self.max_lifetime:
            raise InvalidToken("invalid_lifetime", "token lifetime is out of bounds")
        if now >= exp + self.leeway:
            raise InvalidToken("expired", "token has expired")
        if now + self.leeway < nbf:
            raise InvalidToken("not_yet_valid", "token is not valid yet")
        if now + self.leeway < iat:
            raise InvalidToken("not_yet_valid", "token was issued in the future")
        if now - iat > self.max_lifetime:  # after `expired`: only a token minted long ago
            raise InvalidToken("invalid_lifetime", "token was issued too long ago")
        extra = {k: v for k, v in payload.items() if k not in TESSERA_CLAIMS and k != "aud"}
        if "cnf" in extra:  # bound to a key: only a DPoP key is something we can check
            cnf = extra["cnf"]
            jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
            if not isinstance(jkt, str) or not JKT_PATTERN.fullmatch(jkt):
                raise InvalidToken("invalid_claim", "claim 'cnf' is not a DPoP key binding")
        return AccessClaims(
            sub=strings["sub"],
            role=strings["role"],
            sid=strings["sid"],
            jti=strings["jti"],
            iss=strings["iss"],
            aud=aud,
            iat=iat,
            nbf=nbf,
            exp=exp,
            extra=extra,
        )


def _longest_string(value: Any) -> int:
    """The length of the longest string value in `value`, at any depth (0 if none)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return max(map(_longest_string, value.values()), default=0)
    if isinstance(value, list):
        return max(map(_longest_string, value), default=0)
    return 0
