"""OAuth 2.0 interoperability: the token, revocation and introspection endpoints and the
authorization server metadata, over the same sessions as the `/auth` contract."""

from tessera.http.oauth.routes import build_oauth_router

__all__ = ["build_oauth_router"]
