"""RFC 6749 §5.2 errors. Their body is the contract's own shape, `{"error", "error_description"}`;
what differs from `/auth` is the codes and statuses (a bad grant is 400 here, not 401)."""

from __future__ import annotations

from tessera.errors import TesseraError

BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="tessera"'}


class OAuthError(TesseraError):
    """An error of the OAuth endpoints, with its RFC 6749 code and HTTP status."""

    def __init__(
        self,
        code: str,
        description: str,
        *,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description, headers=headers)
        self.code = code
        self.status = status


def invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description)


def invalid_client(description: str) -> OAuthError:
    """401 with a Basic challenge: RFC 6749 §5.2 asks for it when the client tried the
    Authorization header, and it tells every other client which scheme to use."""
    return OAuthError("invalid_client", description, status=401, headers=BASIC_CHALLENGE)


def invalid_grant(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description)


def unauthorized_client(description: str) -> OAuthError:
    return OAuthError("unauthorized_client", description)
