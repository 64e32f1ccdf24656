"""`token_type_hint` (RFC 7009 §2.1, RFC 7662 §2.1): which kind of token to look for first.
The search always goes on to the other kind, as both RFCs require."""

from __future__ import annotations

from typing import Literal

TokenKind = Literal["access_token", "refresh_token"]


def search_order(hint: str | None) -> tuple[TokenKind, TokenKind]:
    """Unknown hints are ignored (RFC 7009 lets the server ignore the parameter)."""
    if hint == "access_token":
        return ("access_token", "refresh_token")
    return ("refresh_token", "access_token")
