"""Request and response bodies of the auth routes (they also make the OpenAPI schema)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tessera.users.passwords import MAX_PASSWORD_CHARS


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_CHARS)
    transport: Literal["cookie", "body"] = "cookie"


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    refresh_token: str = Field(min_length=1, max_length=512)


class LogoutRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    refresh_token: str | None = Field(default=None, max_length=512)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer", "DPoP"] = "Bearer"  # DPoP: bound to the client's key
    expires_in: int
    expires_at: int
    session_id: str
    refresh_token: str | None = None
    refresh_expires_at: int | None = None


class SessionInfo(BaseModel):
    id: str
    created_at: float
    last_used_at: float
    expires_at: float
    refresh_expires_at: float
    ip: str | None
    user_agent: str | None
    device: str | None = Field(description='e.g. "Firefox on Linux", from the user agent')
    current: bool


class SessionList(BaseModel):
    sessions: list[SessionInfo]


class RevokedSession(BaseModel):
    sid: str
    not_after: float = Field(description="no access token of this session lives past this")


class RevocationPage(BaseModel):
    revocations: list[RevokedSession]
    cursor: int = Field(description="send as `since` next time")
    more: bool = Field(description="another page is ready: ask again at once")


class Me(BaseModel):
    sub: str
    role: str
    sid: str
    exp: int
    name: str | None = None  # the token's preferred_username, when it carries one


class ErrorBody(BaseModel):
    error: str
    error_description: str
