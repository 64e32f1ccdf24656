"""Keys the user names to check a token's signature: a PEM public key, an HMAC secret, or a
JWKS from a file or an https URL. A JWKS is read by the verifier's rules
(`tessera.tokens.jwks`) and fetched with the verifier's bounded fetcher (`tessera.fetch`):
one deadline for the whole request, a size cap, no redirects, credentials kept out of every
message."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tessera.fetch import NO_KEEPALIVE, FetchError, bounded_get
from tessera.inspect.text import quote, shorten
from tessera.logs import redact
from tessera.remote import LOCAL_HOSTS, check_fetch_url, redact_url
from tessera.tokens import KeyMaterialError, SigningKey, from_public_pem, from_secret
from tessera.tokens.jwks import JWKSError, Skipped, parse_jwks
from tessera.tokens.strict_json import StrictJSONError, loads_object

MAX_KEY_BYTES = 1024 * 1024  # JWKS responses and files, PEM files, secrets
JWKS_TIMEOUT = 10.0


class KeyInputError(Exception):
    """A key, secret or JWKS the user gave cannot be used (exit 2)."""


@dataclass(frozen=True)
class KeySet:
    """Verification keys the user named: one key (`--key`, `--secret-stdin`) or a JWKS from
    which the token's `kid` picks. `notes` are worth telling the user, not errors."""

    keys: tuple[SigningKey, ...]
    source: str
    by_kid: bool
    skipped: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def read_capped(path: Path, what: str) -> bytes:
    """A key file's bytes, at most `MAX_KEY_BYTES`."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_KEY_BYTES + 1)
    except OSError as exc:
        raise KeyInputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_KEY_BYTES:
        raise KeyInputError(f"{what} {path} is larger than 1 MiB")
    return data


def pem_key(path: Path) -> KeySet:
    """`--key`: a PEM public key; its type decides the algorithm."""
    data = read_capped(path, "key file")
    if b"-----BEGIN " not in data:
        raise KeyInputError(f"{path} is not a PEM file (-----BEGIN PUBLIC KEY-----)")
    with warnings.catch_warnings():
        # joserfc warns on every import without an explicit key type; the type is checked here.
        warnings.simplefilter("ignore")
        try:
            key = from_public_pem(data)
        except KeyMaterialError as exc:
            raise KeyInputError(f"{path}: {exc}") from None
    notes = (f"{path} holds a private key; the public key is enough",) if key.can_sign else ()
    return KeySet(keys=(key,), source=f"--key {path}", by_kid=False, notes=notes)


def secret_key(secret: bytes) -> KeySet:
    """`--secret-stdin`: an HS256 shared secret."""
    if not secret:
        raise KeyInputError("no HMAC secret on stdin")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            key = from_secret(secret)
        except KeyMaterialError as exc:
            raise KeyInputError(str(exc)) from None
    if caught:
        # joserfc only warns for bytes that look like a PEM or SSH key it could not parse as a
        # public key (a private key, say): never an HMAC secret anyone meant.
        raise KeyInputError("the secret looks like a PEM or SSH key; use --key for public keys")
    return KeySet(keys=(key,), source="the secret from stdin", by_kid=False)


def _skipped(entry: Skipped) -> str:
    kid = quote(entry.kid) if entry.kid is not None else "(no kid)"
    return f"{kid}: {shorten(entry.reason)}"


def jwks_keys(data: bytes, where: str) -> KeySet:
    """The usable signature keys of a JWKS document (a lone JWK is accepted too), by the
    verifier's rules; the entries it skips are listed, not fatal."""
    try:
        document = loads_object(data)
    except StrictJSONError as exc:
        raise KeyInputError(f"{where} is not a JWKS: {exc}") from None
    if "keys" not in document and "kty" in document:
        document = {"keys": [document]}
    try:
        jwks = parse_jwks(document)
    except JWKSError as exc:
        raise KeyInputError(f"{where} is {exc}") from None
    skipped = tuple(_skipped(entry) for entry in jwks.skipped)
    if not jwks.keys:
        detail = f" ({'; '.join(skipped)})" if skipped else ""
        raise KeyInputError(f"{where} has no usable signature key{detail}")
    return KeySet(keys=tuple(jwks.keys.values()), source=where, by_kid=True, skipped=skipped)


def fetch_jwks(url: str, timeout: float = JWKS_TIMEOUT) -> bytes:
    """GET a JWKS URL: https (plain http only on loopback), no redirects, `timeout` seconds
    for the whole request, 1 MiB. Messages show the URL without its user-info."""
    shown = redact_url(url)
    try:
        check_fetch_url(url, "JWKS")
        local = urlsplit(url).hostname in LOCAL_HOSTS
    except ValueError as exc:
        raise KeyInputError(str(exc)) from None
    # A proxy from the environment is for the outside world, never for this machine.
    with httpx.Client(limits=NO_KEEPALIVE, trust_env=not local) as client:
        try:
            fetched = bounded_get(
                client,
                url,
                deadline=timeout,
                max_bytes=MAX_KEY_BYTES,
                accept="application/jwk-set+json, application/json",
            )
        except FetchError as exc:
            raise KeyInputError(f"cannot fetch {shown}: {redact(str(exc))}") from None
    return fetched.body


def _is_url(value: str) -> bool:
    return bool(re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", value))


def jwks_from(location: str, timeout: float = JWKS_TIMEOUT) -> KeySet:
    """`--jwks`: a URL (fetched once) or a file."""
    if _is_url(location):
        return jwks_keys(fetch_jwks(location, timeout), f"JWKS {redact_url(location)}")
    return jwks_keys(read_capped(Path(location), "JWKS file"), f"JWKS file {location}")
