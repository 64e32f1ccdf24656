"""RFC 7662 token introspection, for resource servers that would rather ask than verify.

An access token is active only if it verifies (signature, type, issuer, audience, dates) *and*
its session has not ended — the store is checked, so a revoked session's tokens go inactive at
once here, before their `exp`. A refresh token is active only while it is its session's current
one. Anything else is `{"active": false}`, with no reason given (§2.2).
"""

from __future__ import annotations

from tessera.http.oauth.hints import search_order
from tessera.http.oauth.models import IntrospectionResponse
from tessera.service import AuthService
from tessera.tokens import InvalidToken

INACTIVE = IntrospectionResponse(active=False)


async def introspect(auth: AuthService, token: str, hint: str | None) -> IntrospectionResponse:
    for kind in search_order(hint):
        found = await (
            _refresh_token(auth, token) if kind == "refresh_token" else _access_token(auth, token)
        )
        if found is not None:
            return found
    return INACTIVE


async def _access_token(auth: AuthService, token: str) -> IntrospectionResponse | None:
    try:
        claims = await auth.verify_access_token(token)
    except InvalidToken:
        return None
    if not await auth.sessions.is_active(claims.sid):
        return None
    client_id = claims.extra.get("client_id")
    return IntrospectionResponse(
        active=True,
        # RFC 9449 §6.2: a bound token says so, with its key: the resource server must then
        # ask for a proof by that key (the token alone is not enough).
        token_type="DPoP" if claims.jkt else "Bearer",
        cnf={"jkt": claims.jkt} if claims.jkt else None,
        client_id=client_id if isinstance(client_id, str) else auth.settings.client_id,
        sub=claims.sub,
        username=claims.name,
        aud=claims.aud,
        iss=claims.iss,
        exp=int(claims.exp),
        iat=int(claims.iat),
        nbf=int(claims.nbf),
        jti=claims.jti,
        role=claims.role,
        sid=claims.sid,
    )


async def _refresh_token(auth: AuthService, token: str) -> IntrospectionResponse | None:
    session = await auth.sessions.current(token)
    if session is None:
        return None
    return IntrospectionResponse(
        active=True,
        cnf={"jkt": session.jkt} if session.jkt else None,
        client_id=auth.settings.client_id,
        sub=session.subject,
        username=session.name,
        iss=auth.settings.issuer,
        exp=int(auth.sessions.refresh_expires_at(session)),
        iat=int(session.rotated_at if session.rotated_at is not None else session.created_at),
        role=session.role,
        sid=session.id,
    )
