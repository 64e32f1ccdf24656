"""Writes tests/inspection_cases.json: tokens, and what `tessera decode` (tessera.inspect) and
the decoder page (web/static/inspect.js) must both say about them. The expectations are
written here by hand, never computed; tests/test_inspection_cases.py checks that the JSON file
is what this script writes. After changing a case: `python scripts/inspection_cases.py`.

A case's `error` is the start of the expected message (the JSON parsers' own details after it
differ between the two languages); `times` and `lifetime`, when given, are checked too, and
so are `kind` ("token" unless given), `bound_to` (a token's cnf.jkt, None unless given) and a
proof's facts (`proof`). The DPoP cases are in inspection_cases_dpop.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # its sibling modules, however loaded
from inspection_cases_dpop import dpop_cases
from inspection_support import (
    AT,
    KEY_WARNING,
    NO_EXP,
    NO_TYP,
    NOT_JSON,
    NOW,
    STRICT,
    VALID,
    b64,
    case,
    claims,
    jws,
)

OUT = Path(__file__).resolve().parent.parent / "tests" / "inspection_cases.json"


def _sloppy(payload: str) -> str:
    """`payload`'s base64url with non-zero stray low bits in its last character."""
    segment = b64(payload)
    assert len(segment) % 4 in (2, 3), "pick a payload whose encoding has stray bits"
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return segment[:-1] + alphabet[alphabet.index(segment[-1]) + 1]


def _plus_slash(payload: str) -> str:
    segment = b64(payload)
    assert "-" in segment or "_" in segment, "pick a payload whose encoding has - or _"
    return segment.replace("-", "+").replace("_", "/")


def cases() -> list[dict[str, Any]]:
    nbf_later = claims(iat=NOW + 600, nbf=NOW + 600, exp=NOW + 1500)
    odd = claims(sub="???", exp=NOW + 60)  # its base64url has a "_"
    deep = '{"a":' + "[" * 300 + "]" * 300 + "}"
    return [
        # status and dates
        case(
            "a valid access token",
            jws(AT, VALID),
            "valid",
            times={
                "exp": {"utc": "2027-01-15T08:04:12Z", "relative": "expires in 4 m 12 s"},
                "nbf": {"utc": "2027-01-15T07:59:12Z", "relative": "valid since 48 s ago"},
                "iat": {"utc": "2027-01-15T07:59:12Z", "relative": "issued 48 s ago"},
            },
            lifetime=300,
        ),
        case(
            "expired three hours ago",
            jws(AT, claims(iat=NOW - 3 * 3600 - 900, exp=NOW - 3 * 3600)),
            "expired",
            times={
                "exp": {"utc": "2027-01-15T05:00:00Z", "relative": "expired 3 h ago"},
                "iat": {"utc": "2027-01-15T04:45:00Z", "relative": "issued 3 h 15 m ago"},
            },
        ),
        case("expiring this very second", jws(AT, claims(exp=NOW)), "expired"),
        case(
            "expired 5 s ago, with 10 s leeway",
            jws(AT, claims(exp=NOW - 5)),
            "valid",
            leeway=10,
        ),
        case(
            "half seconds round away from zero",
            jws(AT, claims(exp=NOW - 2.5)),
            "expired",
            times={"exp": {"utc": "2027-01-15T07:59:57.500Z", "relative": "expired 3 s ago"}},
        ),
        case(
            "a fraction below a millisecond",
            jws(AT, claims(exp=NOW + 0.0005)),
            "valid",
            times={"exp": {"utc": "2027-01-15T08:00:00.000Z", "relative": "expires in 0 s"}},
        ),
        case(
            "not yet valid, issued in the future",
            jws(AT, nbf_later),
            "not_yet_valid",
            "nbf is in the future (valid in 10 m)",
            "iat is 10 m in the future: the issuer's clock and this one disagree",
            times={
                "exp": {"utc": "2027-01-15T08:25:00Z", "relative": "expires in 25 m"},
                "nbf": {"utc": "2027-01-15T08:10:00Z", "relative": "valid in 10 m"},
                "iat": {
                    "utc": "2027-01-15T08:10:00Z",
                    "relative": "issued in 10 m (in the future)",
                },
            },
        ),
        case(
            "issued 30 s in the future: no fixed allowance for skew",
            jws(AT, claims(iat=NOW + 30, exp=NOW + 630)),
            "valid",
            "iat is 30 s in the future: the issuer's clock and this one disagree",
        ),
        case(
            "issued 30 s in the future, within 60 s of leeway",
            jws(AT, claims(iat=NOW + 30, exp=NOW + 630)),
            "valid",
            leeway=60,
        ),
        case("no exp", jws(AT, claims(sub="u")), "no_expiry", NO_EXP),
        case(
            "a lifetime of two days",
            jws(AT, claims(iat=NOW, exp=NOW + 2 * 86400)),
            "valid",
            "lifetime is 2 d: more than 24 h",
            lifetime=172800,
        ),
        case(
            "exp before iat",
            jws(AT, claims(iat=NOW, exp=NOW - 1)),
            "expired",
            "exp is not after iat: the token was never valid",
        ),
        case(
            "before 1970",
            jws(AT, claims(iat=-1, exp=NOW + 60)),
            "valid",
            "lifetime is 20833 d 8 h: more than 24 h",
            times={
                "iat": {"utc": "1969-12-31T23:59:59Z", "relative": "issued 20833 d 8 h ago"},
                "exp": {"utc": "2027-01-15T08:01:00Z", "relative": "expires in 1 m"},
            },
        ),
        case(
            "after year 9999: a NumericDate no calendar shows",
            jws(AT, claims(exp=253402300800)),
            "valid",
            times={"exp": {"utc": None, "relative": "expires in 2912063 d 16 h"}},
        ),
        case(
            "at 2^53 exactly",
            jws(AT, claims(exp=2**53)),
            "valid",
            times={"exp": {"utc": None, "relative": "expires in 104249970540 d 23 h"}},
        ),
        # dates that are not NumericDates
        case(
            "exp is a string",
            jws(AT, claims(exp="tomorrow")),
            "malformed",
            'exp is "tomorrow": not a NumericDate (seconds since 1970)',
            error="a time claim is not a NumericDate",
        ),
        case(
            "exp is true, nbf null, iat a list",
            jws(AT, '{"exp":true,"nbf":null,"iat":[1.5,0.0001,0.00001]}'),
            "malformed",
            "exp is true: not a NumericDate (seconds since 1970)",
            "nbf is null: not a NumericDate (seconds since 1970)",
            "iat is [1.5, 0.0001, 1e-05]: not a NumericDate (seconds since 1970)",
            error="a time claim is not a NumericDate",
        ),
        case(
            "exp overflows to infinity",
            jws(AT, '{"exp":1e400}'),
            "malformed",
            "exp is Infinity: not a NumericDate (seconds since 1970)",
            error="a time claim is not a NumericDate",
        ),
        case(
            "exp past 2^53",
            jws(AT, '{"exp":1e16}'),
            "malformed",
            "exp is 1e+16: not a NumericDate (seconds since 1970)",
            error="a time claim is not a NumericDate",
        ),
        # the header
        case("no alg", jws('{"typ":"at+jwt"}', VALID), "valid", "the header has no alg"),
        case(
            "alg null",
            jws('{"alg":null,"typ":"at+jwt"}', VALID),
            "valid",
            "the header has no alg",
        ),
        case(
            'alg "none", any case',
            jws('{"alg":"NoNe","typ":"at+jwt"}', VALID),
            "valid",
            'alg is "none": the token is not signed at all',
        ),
        case("no typ", jws('{"alg":"RS256"}', VALID), "valid", NO_TYP),
        case("typ null", jws('{"alg":"RS256","typ":null}', VALID), "valid", NO_TYP),
        case(
            "typ JWT",
            jws('{"alg":"RS256","typ":"JWT"}', VALID),
            "valid",
            'typ is "JWT", not "at+jwt": not an access token by RFC 9068; informational',
        ),
        case(
            "typ is a list",
            jws('{"alg":"RS256","typ":["at+jwt"]}', VALID),
            "valid",
            'typ is ["at+jwt"], not "at+jwt": not an access token by RFC 9068; informational',
        ),
        case(
            "typ application/AT+JWT",
            jws('{"alg":"RS256","typ":"application/AT+JWT"}', VALID),
            "valid",
        ),
        case(
            "typ: long and not ASCII, quoted short",
            jws('{"alg":"RS256","typ":"' + "\u00e9\u202e" + "x" * 300 + '"}', VALID),
            "valid",
            'typ is "\\u00e9\\u202e' + "x" * 186 + '…, not "at+jwt": not an access token by '
            "RFC 9068; informational",
        ),
        case(
            "keys in the header, and crit",
            jws(
                '{"alg":"RS256","typ":"at+jwt","jku":"https://x.test","x5u":"https://x.test",'
                '"jwk":{"kty":"oct"},"x5c":["MIIB"],"crit":["exp",{"a": 1}]}',
                VALID,
            ),
            "valid",
            *(KEY_WARNING.format(name) for name in ("jku", "x5u", "jwk", "x5c")),
            'the header has crit ["exp", {"a": 1}]: verifiers must reject extensions they do not '
            "understand",
        ),
        case(
            "__proto__ is only a member name",
            jws('{"alg":"none","__proto__":{"typ":"at+jwt","alg":"ES256"}}', VALID),
            "valid",
            'alg is "none": the token is not signed at all',
            NO_TYP,
        ),
        # what the strict parser refuses
        case(
            "duplicate members: the last is shown",
            jws('{"alg":"none","typ":"at+jwt","alg":"ES256"}', VALID[:-1] + ',"sub":"v"}'),
            "valid",
            f"the header fails strict parsing (duplicate member 'alg'): {STRICT}",
            f"the payload fails strict parsing (duplicate member 'sub'): {STRICT}",
        ),
        case(
            "duplicate members: the first object to close is named",
            jws(AT, '{"it\'s":{"x":1,"x":2},"it\'s":3,"exp":' + str(NOW + 60) + "}"),
            "valid",
            f"the payload fails strict parsing (duplicate member 'x'): {STRICT}",
        ),
        case(
            "a duplicate name with a quote and a control character",
            jws(AT, '{"it\'s\\u0007":1,"it\'s\\u0007":2,"exp":' + str(NOW + 60) + "}"),
            "valid",
            f'the payload fails strict parsing (duplicate member "it\'s\\x07"): {STRICT}',
        ),
        case(
            "stray low bits in base64url",
            f"{b64(AT)}.{_sloppy(claims(exp=NOW + 60, pad='x'))}.c2ln",
            "valid",
            f"the payload fails strict parsing (segment is not canonical base64url): {STRICT}",
        ),
        case(
            "padding",
            f"{b64(AT)}.{b64(claims(exp=NOW + 60, pad='x'))}==.c2ln",
            "valid",
            f"the payload fails strict parsing (segment is not base64url): {STRICT}",
        ),
        case(
            "+ and / for - and _",
            f"{b64(AT)}.{_plus_slash(odd)}.c2ln",
            "valid",
            f"the payload fails strict parsing (segment is not base64url): {STRICT}",
        ),
        case(
            "a signature that is not base64url",
            jws(AT, VALID, "c2ln!"),
            "valid",
            "the signature fails strict parsing (segment is not base64url)",
        ),
        case(
            "a signature of impossible length",
            jws(AT, VALID, "c2lnX"),
            "valid",
            "the signature fails strict parsing (segment has an impossible length)",
        ),
        case(
            "nested deeper than the strict parser allows",
            jws(AT, '{"exp":' + str(NOW + 60) + ',"a":' + "[" * 33 + "]" * 33 + "}"),
            "valid",
            f"the payload fails strict parsing (JSON nested too deeply): {STRICT}",
        ),
        case(
            "brackets inside a string count for the strict parser",
            jws(AT, '{"exp":' + str(NOW + 60) + ',"a":"' + "[" * 40 + '"}'),
            "valid",
            f"the payload fails strict parsing (JSON nested too deeply): {STRICT}",
        ),
        case(
            "an unpaired surrogate escape, in a value and in a name",
            jws(AT, '{"sub":"\\ud800x","exp":' + str(NOW + 60) + ',"\\udc00":1}'),
            "valid",
            f"the payload fails strict parsing (unpaired surrogate escape): {STRICT}",
        ),
        case(
            "a surrogate pair escape is one character",
            jws(AT, '{"sub":"\\ud83d\\ude00","exp":' + str(NOW + 60) + "}"),
            "valid",
        ),
        case(
            "an escaped backslash before ud800 is no surrogate",
            jws(AT, '{"sub":"\\\\ud800","exp":' + str(NOW + 60) + "}"),
            "valid",
        ),
        # what cannot be read at all
        case("empty", "", "malformed", error="the token is empty"),
        case("white space only", " \t\x1c\u3000", "malformed", error="the token is empty"),
        case(
            "white space around a token, as Python strips it",
            "\x1c " + jws(AT, VALID) + "\u2029\n",
            "valid",
        ),
        case(
            "not ASCII",
            "é" + jws(AT, VALID),
            "malformed",
            error="the token contains characters that are not ASCII",
        ),
        case(
            "too long",
            jws(AT, claims(exp=NOW + 60, pad="x" * 49500)),
            "malformed",
            error="the token is longer than 65536 characters",
        ),
        case("two parts", "a.b", "malformed", error="a JWS has 3 dot-separated parts; this has 2"),
        case(
            "an encrypted JWE",
            b64('{"alg":"RSA-OAEP","enc":"A256GCM"}') + ".a2V5.aXY.Y2lwaGVy.dGFn",
            "malformed",
            error='this is an encrypted JWE (alg "RSA-OAEP", enc "A256GCM"): it cannot be read '
            "without its key",
        ),
        case(
            "a JWE whose header cannot be read",
            "!!.a2V5.aXY.Y2lwaGVy.dGFn",
            "malformed",
            error="this is an encrypted JWE: it cannot be read without its key",
        ),
        case(
            "a header that is not base64url",
            "!!!.e30.",
            "malformed",
            error="the header is not base64url-encoded JSON (not base64url)",
        ),
        case(
            "a header of impossible length",
            "e30xx.e30.",
            "malformed",
            error="the header is not base64url-encoded JSON (not base64url (impossible length))",
        ),
        case("a payload that is not JSON", jws(AT, "foo"), "malformed", error=NOT_JSON),
        case("a payload with a BOM", jws(AT, "\ufeff{}"), "malformed", error=NOT_JSON),
        case("NaN", jws(AT, '{"exp":NaN}'), "malformed", error=NOT_JSON),
        case(
            "a payload that is not UTF-8",
            jws(AT, b'{"sub":"\xff"}'),
            "malformed",
            error="the payload is not UTF-8",
        ),
        case(
            "a payload that is a list",
            jws(AT, "[]"),
            "malformed",
            error="the payload is not a JSON object",
        ),
        case(
            "nested too deeply to read",
            jws(AT, deep),
            "malformed",
            error="the payload is nested too deeply",
        ),
        case(
            "unclosed and nested too deeply",
            jws(AT, "[" * 5000),
            "malformed",
            error="the payload is nested too deeply",
        ),
        case(
            "an integer too long to read",
            jws(AT, '{"n":-' + "1" * 4301 + "}"),
            "malformed",
            error="the payload has an integer of more than 4300 digits",
        ),
        case(
            "a long number that is a float",
            jws(AT, '{"n":' + "1" * 4301 + '.5,"exp":' + str(NOW + 60) + "}"),
            "valid",
        ),
    ]


def build() -> dict[str, Any]:
    return {"now": NOW, "cases": cases() + dpop_cases()}


def main() -> None:
    OUT.write_text(json.dumps(build(), indent=1, ensure_ascii=True) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
