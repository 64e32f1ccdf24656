"""FastAPI: `Depends(require(verifier, role="admin"))` gives the verified claims or answers
401/403 (RFC 6750 / RFC 9449 challenge, the contract's error body with Tessera's error
handlers). Bearer tokens, and DPoP-bound tokens with the DPoP scheme and a proof."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection

from fastapi import Request
from starlette.exceptions import HTTPException

from tessera.tokens import AccessClaims
from tessera.verify.refusal import Refusal, check_role, roles_of
from tessera.verify.starlette import verified
from tessera.verify.verifier import Verifier


class AuthHTTPError(HTTPException):
    """An HTTPException that knows its contract error code: what `require()` raises, so a host
    application without Tessera's handlers still answers with the right status and headers."""

    def __init__(
        self, status_code: int, code: str, description: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code=status_code, detail=description, headers=headers)
        self.code = code


def require(
    verifier: Verifier, role: str | Collection[str] | None = None
) -> Callable[[Request], Awaitable[AccessClaims]]:
    roles = roles_of(role)

    async def dependency(request: Request) -> AccessClaims:
        try:
            claims = await verified(verifier, request)
            return check_role(claims, roles)
        except Refusal as refusal:
            raise AuthHTTPError(
                refusal.status, refusal.error, refusal.description, refusal.headers
            ) from None

    return dependency
