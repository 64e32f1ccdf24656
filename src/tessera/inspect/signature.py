"""Checking a token's signature with the keys the user named: the key is chosen by the token's
`kid` from a JWKS, the algorithm by the key. Only the signature is checked
(`tessera.hazmat`): the examination reports on the claims itself."""

from __future__ import annotations

from tessera.hazmat import check_signature
from tessera.inspect.keys import KeySet
from tessera.inspect.report import Report
from tessera.inspect.text import quote, shorten
from tessera.tokens import InvalidToken, SigningKey


def _candidates(report: Report, keys: KeySet) -> tuple[SigningKey, ...] | str:
    """The keys to try, or why there are none."""
    if not keys.by_kid:
        return keys.keys
    kid = (report.header or {}).get("kid")
    if kid is None:
        if len(keys.keys) == 1:
            return keys.keys
        return f"the token has no kid and {keys.source} has {len(keys.keys)} usable keys"
    chosen = tuple(key for key in keys.keys if key.kid == kid)
    if chosen:
        return chosen
    skipped = f"; skipped: {'; '.join(keys.skipped)}" if keys.skipped else ""
    return f"no usable key with kid {quote(kid)} in {keys.source}{skipped}"


def check_keys(report: Report, token: str, keys: KeySet) -> None:
    """Record in `report` whether one of `keys` verifies `token`'s signature."""
    candidates = _candidates(report, keys)
    failure = candidates if isinstance(candidates, str) else "no key"
    for key in () if isinstance(candidates, str) else candidates:
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
    report.signature_detail = shorten(f"NOT verified: {failure}")
