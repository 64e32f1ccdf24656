"""RFC 7009 token revocation. Either kind of token ends its whole session: a refresh token
(any generation, as `/auth/logout`), or a valid access token (its `sid`, as a Bearer logout).
A token that is unknown, malformed or already dead changes nothing and still answers 200."""

from __future__ import annotations

from tessera.http.oauth.hints import search_order
from tessera.service import AuthService
from tessera.sessions import ClientInfo
from tessera.tokens import InvalidToken


async def revoke(auth: AuthService, token: str, hint: str | None, client: ClientInfo) -> bool:
    """True when a session was found and revoked."""
    for kind in search_order(hint):
        if kind == "refresh_token":
            if await auth.logout.with_refresh_token(token, client):
                return True
            continue
        try:
            claims = await auth.verify_access_token(token)
        except InvalidToken:
            continue
        if await auth.logout.with_access_token(claims, client):
            return True
    return False
