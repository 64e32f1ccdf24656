"""RFC 7009 token revocation. Either kind of token ends its whole session: a refresh token
(any generation, as `/auth/logout`), or a valid access token (its `sid`, as a Bearer logout).
A token that is unknown, malformed or already dead changes nothing and still answers 200.
A DPoP-bound session's token, refresh or access, ends it only with a proof by its key (`jkt`,
the request's proven key): else `invalid_dpop_proof`, and nothing ends."""

from __future__ import annotations

from tessera.errors import InvalidDPoPProof
from tessera.http.oauth.hints import search_order
from tessera.service import AuthService
from tessera.sessions import ClientInfo
from tessera.tokens import InvalidToken


async def revoke(
    auth: AuthService, token: str, hint: str | None, client: ClientInfo, jkt: str | None
) -> bool:
    """True when a session was found and revoked."""
    try:
        return await _revoke(auth, token, hint, client, jkt)
    except InvalidDPoPProof as exc:  # RFC 9449 §5: 400 at the authorization server
        raise InvalidDPoPProof(exc.description, reason=exc.reason, status=400) from None


async def _revoke(
    auth: AuthService, token: str, hint: str | None, client: ClientInfo, jkt: str | None
) -> bool:
    for kind in search_order(hint):
        if kind == "refresh_token":
            if await auth.logout.with_refresh_token(token, client, jkt):
                return True
            continue
        try:
            claims = await auth.verify_access_token(token)
        except InvalidToken:
            continue
        session = await auth.store.get_session(claims.sid) if claims.jkt != jkt else None
        if claims.jkt is not None and session is not None and session.revoked_at is None:
            await auth.sessions.refuse_unproven(session, "revocation", jkt, client)
        if await auth.logout.with_access_token(claims, client):
            return True
    return False
