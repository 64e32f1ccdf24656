"""RFC 7009 token revocation. Either kind of token ends its whole session: a refresh token
(any generation, as `/auth/logout`), or a valid access token (its `sid`, as a Bearer logout).
A token that is unknown, malformed or already dead changes nothing and still answers 200."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tessera.oauth.hints import search_order
from tessera.sessions import ClientInfo
from tessera.tokens import InvalidToken

if TYPE_CHECKING:
    from tessera.service import Tessera


async def revoke(auth: Tessera, token: str, hint: str | None, client: ClientInfo) -> bool:
    """True when a session was found and revoked."""
    for kind in search_order(hint):
        if kind == "refresh_token":
            if await auth.sessions.logout(token, client) is not None:
                return True
            continue
        try:
            claims = await auth.verify_access_token(token)
        except InvalidToken:
            continue
        if await auth.sessions.revoke(claims.sid, "logout", client, subject=claims.sub):
            return True
    return False
