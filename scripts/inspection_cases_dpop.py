"""The DPoP cases of tests/inspection_cases.json (see inspection_cases.py): tokens bound to a
key (`cnf.jkt`), and DPoP proofs, judged by their `iat` against the 60 s window, each with
what the decoder must say of the request it is for and of its key.

The thumbprints are the RFCs' own, never computed here: RFC 9449 §6.1 for its example P-256
key, RFC 7638 §3.1 for its RSA key, RFC 8037 §A.3 for its Ed25519 key (whose private `d`,
RFC 8037 §A.1, makes the proof that leaks one).
"""

from __future__ import annotations

import json
from typing import Any

from inspection_support import AT, NOW, STRICT, case, claims, jws

# RFC 9449 Figure 3: a token request's proof, signed, with its key and that key's thumbprint.
RFC9449_PROOF = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNo"
    "UklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERW"
    "clUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0"
    "dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-"
    "FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
)
EC_JWK = {
    "kty": "EC",
    "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
    "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
    "crv": "P-256",
}
EC_JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
RSA_JWK = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
    "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW"
    "2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQ"
    "Fh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RSA_JKT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
ED_JWK = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
ED_PRIVATE = {**ED_JWK, "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}
ED_JKT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
ATH = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"  # RFC 9449 Figure 12's access token's
URL = "https://resource.example.org/protectedresource"
REFUSED = "servers refuse the proof"
ALGORITHMS = "ES256, ES384, EdDSA, Ed25519, RS256, PS256"
NOT_A_TOKEN = "the proof carries {}: a proof is not a token, and servers judge it by its iat alone"


def header(alg: Any = "ES256", jwk: Any = None, **more: Any) -> str:
    values = {"typ": "dpop+jwt", "alg": alg, "jwk": EC_JWK if jwk is None else jwk, **more}
    return json.dumps({k: v for k, v in values.items() if v is not DROP}, separators=(",", ":"))


def body(**changes: Any) -> str:
    values = {"jti": "e1j3V_bKic8-LAEB", "htm": "GET", "htu": URL, "iat": NOW - 12, "ath": ATH}
    values.update(changes)
    return claims(**{k: v for k, v in values.items() if v is not DROP})


def facts(
    jkt: str | None = EC_JKT,
    key: str | None = "EC P-256",
    within: bool | None = True,
    **claimed: Any,
) -> dict[str, Any]:
    """What the decoder must say of a proof (its claims: those of `body()` unless given)."""
    shown = {"htm": "GET", "htu": URL, "ath": ATH, **claimed}
    return {**shown, "key": key, "jkt": jkt, "private_key": False, "within_window": within}


DROP = object()


def proof(name: str, token: str, status: str, *warnings: str, **more: Any) -> dict[str, Any]:
    return case(name, token, status, *warnings, kind="dpop_proof", **more)


def bound_cases() -> list[dict[str, Any]]:
    exp = NOW + 252
    return [
        case(
            "bound to a key: cnf.jkt",
            jws(AT, claims(sub="u", exp=exp, cnf={"jkt": EC_JKT})),
            "valid",
            bound_to=EC_JKT,
        ),
        case(
            "a cnf that is no DPoP binding",
            jws(AT, claims(sub="u", exp=exp, cnf={"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9"})),
            "valid",
            'cnf is {"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9"}: not a DPoP key binding '
            "(cnf.jkt, a SHA-256 thumbprint), and Tessera refuses the token",
        ),
        case(
            "a cnf.jkt that is no thumbprint",
            jws(AT, claims(sub="u", exp=exp, cnf={"jkt": EC_JKT[:-1]})),
            "valid",
            f'cnf is {{"jkt": "{EC_JKT[:-1]}"}}: not a DPoP key binding (cnf.jkt, a SHA-256 '
            "thumbprint), and Tessera refuses the token",
        ),
    ]


def proof_cases() -> list[dict[str, Any]]:
    return [
        proof(
            "RFC 9449's proof, years later: stale",
            RFC9449_PROOF,
            "stale",
            times={
                "iat": {"utc": "2019-07-04T17:50:16Z", "relative": "issued 2751 d 14 h ago"},
            },
            proof=facts(within=False, htm="POST", htu="https://server.example.com/token", ath=None),
        ),
        proof(
            "a fresh proof for a resource request",
            jws(header(), body()),
            "fresh",
            times={"iat": {"utc": "2027-01-15T07:59:48Z", "relative": "issued 12 s ago"}},
            proof=facts(),
        ),
        proof("60 s old: still within", jws(header(), body(iat=NOW - 60)), "fresh"),
        proof(
            "61 s old: stale",
            jws(header(), body(iat=NOW - 61)),
            "stale",
            proof=facts(within=False),
        ),
        proof("64 s old, with 5 s leeway", jws(header(), body(iat=NOW - 64)), "fresh", leeway=5),
        proof(
            "issued in the future",
            jws(header(), body(iat=NOW + 30)),
            "not_yet_valid",
            "iat is 30 s in the future: the client's clock and this one disagree",
            proof=facts(within=False),
        ),
        proof(
            "an exp long past gives no expiry: a proof is judged by its iat",
            jws(header(), body(exp=NOW - 100, nbf=NOW - 200)),
            "fresh",
            NOT_A_TOKEN.format("exp"),
            NOT_A_TOKEN.format("nbf"),
        ),
        proof(
            "a private key in the proof",
            jws(header("EdDSA", ED_PRIVATE), body()),
            "fresh",
            'THE PROOF\'S jwk HOLDS A PRIVATE KEY ("d"): anyone who has seen this proof has the '
            f"key; {REFUSED}, and the client must stop using that key",
            proof={**facts(ED_JKT, "OKP Ed25519"), "private_key": True},
        ),
        proof(
            "an RSA key, with kid and alg in the jwk",
            jws(header("PS256", RSA_JWK), body()),
            "fresh",
            proof=facts(RSA_JKT, "RSA"),
        ),
        proof(
            "an HMAC key and alg",
            jws(header("HS256", {"kty": "oct", "k": "c2VjcmV0"}), body()),
            "fresh",
            'THE PROOF\'S jwk HOLDS A PRIVATE KEY ("k"): anyone who has seen this proof has the '
            f"key; {REFUSED}, and the client must stop using that key",
            f'alg "HS256" is not one Tessera accepts for DPoP proofs ({ALGORITHMS}): {REFUSED}',
            f"the jwk is not an EC, OKP or RSA public key: no thumbprint, and {REFUSED}",
            proof={**facts(None, None), "private_key": True},
        ),
        proof(
            "alg none, no jwk, a kid, no jti, htm or htu",
            jws(
                header("none", DROP, kid="k1", jku="https://x.test"),
                body(jti=DROP, htm=7, htu=DROP, ath=DROP),
            ),
            "fresh",
            'alg is "none": the proof is not signed at all',
            f"the header has no jwk (a JSON object): {REFUSED}",
            f'header parameters a DPoP proof does not use ("kid", "jku"): {REFUSED}',
            f"jti is missing or not a string: {REFUSED}",
            f"htm is missing or not a string: {REFUSED}",
            f"htu is missing or not a string: {REFUSED}",
            proof=facts(None, None, htm=7, htu=None, ath=None),
        ),
        proof(
            "a key that is not for its alg, an htu with a query",
            jws(header("ES256", ED_JWK, typ="DPoP+JWT"), body(htu=URL + "?a=1#f")),
            "fresh",
            f"the jwk is not a key for ES256: {REFUSED}",
            "htu has a query or fragment: servers compare it without them",
            proof=facts(ED_JKT, "OKP Ed25519", htu=URL + "?a=1#f"),
        ),
        proof(
            "a key member that is not ASCII has no thumbprint",
            jws(header("ES256", {**EC_JWK, "x": "\u00e9" + EC_JWK["x"][1:]}), body()),
            "fresh",
            f"the jwk is not an EC, OKP or RSA public key: no thumbprint, and {REFUSED}",
            proof=facts(None, None),
        ),
        proof(
            "no iat",
            jws(header(), body(iat=DROP)),
            "malformed",
            f"no iat: {REFUSED}",
            error="a DPoP proof needs an iat",
            proof=facts(within=None),
        ),
        proof(
            "an iat that is a string",
            jws(header(), body(iat="now")),
            "malformed",
            'iat is "now": not a NumericDate (seconds since 1970)',
            error="a time claim is not a NumericDate",
        ),
        proof(
            "a proof fails strict parsing as tokens do",
            jws(header(), body()[:-1] + ',"htm":"POST"}'),
            "fresh",
            f"the payload fails strict parsing (duplicate member 'htm'): {STRICT}",
            proof=facts(htm="POST"),
        ),
    ]


def dpop_cases() -> list[dict[str, Any]]:
    return bound_cases() + proof_cases()
