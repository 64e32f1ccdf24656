"""Access tokens: the only package that touches the JOSE library."""

from tessera.tokens.access import AccessClaims, AccessTokenPolicy, InvalidToken
from tessera.tokens.jwk import (
    ALGORITHMS,
    KeyMaterialError,
    SigningKey,
    from_public_jwk,
    generate_key,
    import_pem,
    load_private_json,
)

__all__ = [
    "ALGORITHMS",
    "AccessClaims",
    "AccessTokenPolicy",
    "InvalidToken",
    "KeyMaterialError",
    "SigningKey",
    "from_public_jwk",
    "generate_key",
    "import_pem",
    "load_private_json",
]
