"""Who is calling an OAuth endpoint (RFC 6749 §2.3).

Tessera knows two kinds of client. The first-party client (`TESSERA_CLIENT_ID`) is public: it
has no secret, every session belongs to it, and it may identify itself with `client_id` in the
body, or not at all. Introspection clients (`TESSERA_OAUTH_INTROSPECTION_CLIENTS`) are
confidential resource servers that authenticate with HTTP Basic (`client_secret_basic`) and may
only introspect.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import unquote_plus

from fastapi import Request

from tessera.http.oauth.errors import invalid_client
from tessera.settings import Settings

UNKNOWN = secrets.token_urlsafe(32)  # compared against when the client id is unknown


@dataclass(frozen=True)
class Client:
    id: str
    confidential: bool


def identify_client(request: Request, params: dict[str, str], settings: Settings) -> Client:
    """The calling client, authenticated when it presented credentials; `invalid_client` for
    credentials that do not check out, an unknown `client_id`, or two differing identities."""
    if "client_secret" in params:
        raise invalid_client("client_secret_post is not supported; use HTTP Basic")
    body_id = params.get("client_id")
    header = request.headers.get("authorization")
    if header is None:
        if body_id is not None and body_id != settings.client_id:
            raise invalid_client("unknown client")
        return Client(settings.client_id, confidential=False)
    client_id, secret = _basic_credentials(header)
    if body_id is not None and body_id != client_id:
        raise invalid_client("client_id differs from the Authorization header's")
    if client_id == settings.client_id:
        if secret:
            raise invalid_client("the first-party client is public and has no secret")
        return Client(client_id, confidential=False)  # "tessera:" — Basic with an empty secret
    expected = settings.oauth_introspection_clients.get(client_id)
    # An unknown id costs the same comparison as a wrong secret: timing names no client.
    known = _secret_matches(secret, expected.get_secret_value() if expected else UNKNOWN)
    if expected is None or not known:
        raise invalid_client("client authentication failed")
    return Client(client_id, confidential=True)


def _basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise invalid_client("client authentication must use HTTP Basic")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:  # bad base64 (binascii.Error), non-ASCII text, bad UTF-8
        raise invalid_client("malformed Basic credentials") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise invalid_client("malformed Basic credentials")
    # RFC 6749 §2.3.1 form-encodes both parts; many clients do not. Ids are from a safe set.
    return unquote_plus(client_id), secret


def _secret_matches(presented: str, expected: str) -> bool:
    """Constant-time, for the secret as sent and as form-decoded (RFC 6749 §2.3.1 asks clients
    to form-encode it; many do not). Either form still requires knowing the secret."""
    want = expected.encode()
    raw = hmac.compare_digest(presented.encode(), want)
    decoded = hmac.compare_digest(unquote_plus(presented).encode(), want)
    return raw or decoded
