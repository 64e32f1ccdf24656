"""Response bodies of the OAuth endpoints (they also make the OpenAPI schema)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class OAuthTokenResponse(BaseModel):
    """RFC 6749 §5.1. No `scope`: Tessera issues no scopes (roles travel in the token)."""

    access_token: str
    token_type: Literal["Bearer", "DPoP"] = "Bearer"  # DPoP: bound to the client's key
    expires_in: int
    refresh_token: str


class IntrospectionResponse(BaseModel):
    """RFC 7662 §2.2. An inactive token gets `{"active": false}` and nothing else."""

    active: bool
    token_type: str | None = None
    cnf: dict[str, str] | None = None  # RFC 9449 §6.2: {"jkt": …} for a DPoP-bound token
    client_id: str | None = None
    sub: str | None = None
    username: str | None = None  # RFC 7662's: the token's preferred_username, if any
    aud: str | list[str] | None = None
    iss: str | None = None
    exp: int | None = None
    iat: int | None = None
    nbf: int | None = None
    jti: str | None = None
    role: str | None = None
    sid: str | None = None


class AuthorizationServerMetadata(BaseModel):
    """RFC 8414 §2, the members that apply to a server without an authorization endpoint."""

    issuer: str
    token_endpoint: str
    jwks_uri: str
    revocation_endpoint: str
    introspection_endpoint: str
    grant_types_supported: list[str]
    response_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    revocation_endpoint_auth_methods_supported: list[str]
    introspection_endpoint_auth_methods_supported: list[str]
    # RFC 9449 §5.1; absent when DPoP is off.
    dpop_signing_alg_values_supported: list[str] | None = None
