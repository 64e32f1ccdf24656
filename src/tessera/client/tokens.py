"""A token set as the client holds it, with expiry anchored at the moment it was received."""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("tessera.client")
MAX_LEAD = 60.0


@dataclass(frozen=True, slots=True)
class TokenSet:
    """Tokens from a login or a refresh. `local_expires_at` is in the client's own clock:
    time received + the token's lifetime, so a wrong client clock never shifts refreshes."""

    access_token: str
    refresh_token: str
    local_expires_at: float
    lifetime: float
    session_id: str | None = None
    refresh_expires_at: float | None = None
    token_type: str = "Bearer"  # "DPoP": bound to the client's key, sent with a proof

    @property
    def bound(self) -> bool:
        return self.token_type.lower() == "dpop"

    @property
    def lead(self) -> float:
        """How long before expiry to refresh: min(60 s, a third of the lifetime)."""
        return min(MAX_LEAD, self.lifetime / 3)

    def stale(self, now: float) -> bool:
        return now >= self.local_expires_at - self.lead

    def as_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "local_expires_at": self.local_expires_at,
            "lifetime": self.lifetime,
            "session_id": self.session_id,
            "refresh_expires_at": self.refresh_expires_at,
            "token_type": self.token_type,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenSet:
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]),
            local_expires_at=float(data["local_expires_at"]),
            lifetime=float(data["lifetime"]),
            session_id=data.get("session_id"),
            refresh_expires_at=data.get("refresh_expires_at"),
            token_type=str(data.get("token_type", "Bearer")),
        )


class BadTokenResponse(ValueError):
    """A 200 from the auth server that is not a usable token response."""


def _claims(access_token: str) -> dict[str, Any]:
    """The access token's claims, unverified: the client only reads `iat` and `exp`."""
    try:
        payload = access_token.split(".")[1]
        value = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def parse_token_response(body: object, received_at: float) -> TokenSet:
    """Build a `TokenSet` from the JSON of a body-transport token response."""
    if not isinstance(body, dict):
        raise BadTokenResponse("token response is not a JSON object")
    access, refresh = body.get("access_token"), body.get("refresh_token")
    if not isinstance(access, str) or not isinstance(refresh, str):
        raise BadTokenResponse("token response lacks access_token or refresh_token")
    claims = _claims(access)
    exp, iat = claims.get("exp"), claims.get("iat")
    lifetime: float
    if isinstance(exp, int | float) and isinstance(iat, int | float) and exp > iat:
        lifetime = float(exp - iat)
        log.debug(
            "token received; estimated clock skew (server - client): %.1f s", iat - received_at
        )
    elif isinstance(body.get("expires_in"), int | float) and body["expires_in"] > 0:
        lifetime = float(body["expires_in"])
    else:
        raise BadTokenResponse("token response says nothing about expiry")
    refresh_expires = body.get("refresh_expires_at")
    session_id = body.get("session_id")
    token_type = body.get("token_type")
    return TokenSet(
        access_token=access,
        refresh_token=refresh,
        local_expires_at=received_at + lifetime,
        lifetime=lifetime,
        session_id=session_id if isinstance(session_id, str) else None,
        refresh_expires_at=float(refresh_expires)
        if isinstance(refresh_expires, int | float)
        else None,
        token_type="DPoP"
        if isinstance(token_type, str) and token_type.lower() == "dpop"
        else "Bearer",
    )
