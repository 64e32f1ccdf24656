"""DPoP in the decoder: a token bound to a key (`cnf.jkt`, RFC 9449 §6), and a DPoP proof
(`typ: dpop+jwt`) examined as what it is — one request's signature, judged by its `iat`
against a short window, never a token with a validity period (its `exp`, if any, says
nothing). The key in a proof's header is named by its RFC 7638 thumbprint, the value a bound
token's `cnf.jkt` holds. `web/static/inspect-dpop.js` follows the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tessera.dpop.errors import InvalidProof
from tessera.dpop.keys import PRIVATE_MEMBERS, PROOF_ALGORITHMS, THUMBPRINT_MEMBERS, thumbprint
from tessera.dpop.proof import MAX_AGE, PROOF_TYPE
from tessera.inspect.text import quote, span
from tessera.inspect.times import TimeClaim, Times, dates, numeric_date, relative
from tessera.tokens.access import JKT_PATTERN

PROOF_WINDOW = MAX_AGE  # seconds after its iat that a proof stays acceptable (Tessera's default)
PROOF_HEADER = ("typ", "alg", "jwk")
REQUIRED_CLAIMS = ("jti", "htm", "htu")
SHOWN_CLAIMS = ("htm", "htu", "ath", "nonce", "jti")
REFUSED = "servers refuse the proof"


@dataclass
class ProofFacts:
    """What a DPoP proof says: the request it is for, the key that signs it, and its age."""

    claims: dict[str, Any]  # htm, htu, ath, nonce, jti as they are (absent: None)
    key: str | None  # "EC P-256", "OKP Ed25519", "RSA"
    jkt: str | None  # the key's RFC 7638 thumbprint
    private_key: bool
    age: float | None = None  # seconds since its iat
    within_window: bool | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            **self.claims,
            "key": self.key,
            "jkt": self.jkt,
            "private_key": self.private_key,
            "window": PROOF_WINDOW,
            "age": self.age,
            "within_window": self.within_window,
        }


def is_proof(header: dict[str, Any]) -> bool:
    typ = header.get("typ")
    return isinstance(typ, str) and typ.lower() == PROOF_TYPE


def binding(claims: dict[str, Any]) -> tuple[str | None, list[str]]:
    """The thumbprint a token is bound to (`cnf.jkt`), and what is wrong with its `cnf`."""
    if "cnf" not in claims:
        return None, []
    cnf = claims["cnf"]
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    if isinstance(jkt, str) and JKT_PATTERN.fullmatch(jkt):
        return jkt, []
    return None, [
        f"cnf is {quote(cnf)}: not a DPoP key binding (cnf.jkt, a SHA-256 thumbprint), "
        "and Tessera refuses the token"
    ]


def _key(jwk: dict[str, Any]) -> tuple[str | None, str | None]:
    """The key's description and thumbprint, or `None`s when it is no EC, OKP or RSA key
    (members that are not ASCII strings included: no two JSON encoders agree on those)."""
    kty = jwk.get("kty")
    members = THUMBPRINT_MEMBERS.get(kty) if isinstance(kty, str) else None
    if members is None or not all(
        isinstance(jwk.get(m), str) and jwk[m].isascii() for m in members
    ):
        return None, None
    try:
        jkt = thumbprint(jwk)
    except InvalidProof:
        return None, None
    return (f"{kty} {jwk['crv']}" if "crv" in members else str(kty)), jkt


def _private_warning(jwk: dict[str, Any]) -> list[str]:
    private = [name for name in jwk if name in PRIVATE_MEMBERS]
    if not private:
        return []
    names = ", ".join(f'"{name}"' for name in private)
    return [
        f"THE PROOF'S jwk HOLDS A PRIVATE KEY ({names}): anyone who has seen this proof has "
        f"the key; {REFUSED}, and the client must stop using that key"
    ]


def _header_warnings(header: dict[str, Any], jwk: dict[str, Any] | None) -> list[str]:
    found: list[str] = []
    alg = header.get("alg")
    if not isinstance(alg, str):
        found.append("the header has no alg")
    elif alg.lower() == "none":
        found.append('alg is "none": the proof is not signed at all')
    elif alg not in PROOF_ALGORITHMS:
        found.append(
            f"alg {quote(alg)} is not one Tessera accepts for DPoP proofs "
            f"({', '.join(PROOF_ALGORITHMS)}): {REFUSED}"
        )
    if jwk is None:
        found.append(f"the header has no jwk (a JSON object): {REFUSED}")
    elif _key(jwk)[1] is None:
        found.append(f"the jwk is not an EC, OKP or RSA public key: no thumbprint, and {REFUSED}")
    elif isinstance(alg, str) and alg in PROOF_ALGORITHMS:
        kty, crv = PROOF_ALGORITHMS[alg]
        if jwk.get("kty") != kty or (crv is not None and jwk.get("crv") != crv):
            found.append(f"the jwk is not a key for {alg}: {REFUSED}")
    extra = [name for name in header if name not in PROOF_HEADER]
    if extra:
        names = ", ".join(quote(name) for name in extra)
        found.append(f"header parameters a DPoP proof does not use ({names}): {REFUSED}")
    return found


def _claim_warnings(claims: dict[str, Any]) -> list[str]:
    found = [
        f"{name} is missing or not a string: {REFUSED}"
        for name in REQUIRED_CLAIMS
        if not isinstance(claims.get(name), str) or not claims[name]
    ]
    htu = claims.get("htu")
    if isinstance(htu, str) and ("?" in htu or "#" in htu):
        found.append("htu has a query or fragment: servers compare it without them")
    return found


def _times(claims: dict[str, Any], at: float, leeway: float) -> Times:
    """A proof's `iat` at `at`: fresh within the window (and `leeway`), stale after it."""
    times = Times()
    times.warnings += [
        f"the proof carries {name}: a proof is not a token, and servers judge it by its iat alone"
        for name in ("exp", "nbf")
        if name in claims
    ]
    if "iat" not in claims:
        times.warnings.append(f"no iat: {REFUSED}")
        times.error = "a DPoP proof needs an iat"
        return times
    value = numeric_date(claims["iat"])
    if value is None:
        times.warnings.append(
            f"iat is {quote(claims['iat'])}: not a NumericDate (seconds since 1970)"
        )
        times.error = "a time claim is not a NumericDate"
        return times
    utc, local = dates(value)
    times.claims["iat"] = TimeClaim(
        "iat", value, utc, local, relative("iat", value, at), value - at
    )
    if value > at + leeway:
        times.warnings.append(
            f"iat is {span(value - at)} in the future: the client's clock and this one disagree"
        )
        times.status = "not_yet_valid"
    elif at - value > PROOF_WINDOW + leeway:
        times.status = "stale"
    else:
        times.status = "fresh"
    return times


def examine_proof(
    header: dict[str, Any], claims: dict[str, Any], at: float, leeway: float
) -> tuple[ProofFacts, list[str], list[str], Times]:
    """A proof's facts, the warnings on its header (the private key first) and on its claims,
    and its times."""
    jwk = header.get("jwk") if isinstance(header.get("jwk"), dict) else None
    key, jkt = _key(jwk) if jwk is not None else (None, None)
    facts = ProofFacts(
        claims={name: claims.get(name) for name in SHOWN_CLAIMS},
        key=key,
        jkt=jkt,
        private_key=bool(jwk is not None and PRIVATE_MEMBERS & jwk.keys()),
    )
    header_found = _private_warning(jwk or {}) + _header_warnings(header, jwk)
    times = _times(claims, at, leeway)
    iat = times.claims.get("iat")
    if iat is not None:
        facts.age = at - iat.value
        facts.within_window = times.status == "fresh"
    return facts, header_found, _claim_warnings(claims), times
