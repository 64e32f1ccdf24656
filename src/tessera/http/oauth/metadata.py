"""RFC 8414 authorization server metadata.

Tessera has no authorization endpoint (no browser redirect flows): its grants are the refresh
token and, when enabled, the password grant for first-party apps. So `authorization_endpoint`
is absent (RFC 8414 §2: required only with a grant that uses it) and the REQUIRED
`response_types_supported` is the empty list — the response types it supports are none.
Signing algorithms are announced per key, as the `alg` of each key in the JWKS.
"""

from __future__ import annotations

from fastapi import Request

from tessera.http.oauth.models import AuthorizationServerMetadata
from tessera.settings import Settings

PATH = "/.well-known/oauth-authorization-server"
TOKEN, REVOKE, INTROSPECT, JWKS = "oauth_token", "oauth_revoke", "oauth_introspect", "jwks"


def grant_types(settings: Settings) -> list[str]:
    return ["refresh_token", "password"] if settings.oauth_password_grant else ["refresh_token"]


def endpoint(request: Request, settings: Settings, name: str) -> str:
    """The absolute URL of one of Tessera's routes, with the app's mount point: under
    `TESSERA_PUBLIC_URL` when set, else under the URL this request came in on."""
    if settings.public_url:
        mount: str = request.scope.get("root_path", "")
        return settings.public_url + mount + str(request.app.url_path_for(name))
    return str(request.url_for(name))


def build_metadata(request: Request, settings: Settings) -> AuthorizationServerMetadata:
    return AuthorizationServerMetadata(
        issuer=settings.issuer,
        token_endpoint=endpoint(request, settings, TOKEN),
        jwks_uri=endpoint(request, settings, JWKS),
        revocation_endpoint=endpoint(request, settings, REVOKE),
        introspection_endpoint=endpoint(request, settings, INTROSPECT),
        grant_types_supported=grant_types(settings),
        response_types_supported=[],
        token_endpoint_auth_methods_supported=["none"],
        revocation_endpoint_auth_methods_supported=["none"],
        introspection_endpoint_auth_methods_supported=["client_secret_basic"],
        dpop_signing_alg_values_supported=(
            list(settings.dpop_algorithms) if settings.dpop != "off" else None
        ),
    )
