"""Access tokens: the only package that touches the JOSE library."""

from tessera.tokens.access import (
    AccessClaims,
    AccessTokenPolicy,
    InvalidToken,
    KeyLookup,
)
from tessera.tokens.jwk import (
    ALGORITHMS,
    KID_PATTERN,
    KeyMaterialError,
    SigningKey,
    from_public_jwk,
    from_public_pem,
    from_secret,
    generate_key,
    import_pem,
    load_private_json,
)

__all__ = [
    "ALGORITHMS",
    "KID_PATTERN",
    "AccessClaims",
    "AccessTokenPolicy",
    "InvalidToken",
    "KeyLookup",
    "KeyMaterialError",
    "SigningKey",
    "from_public_jwk",
    "from_public_pem",
    "from_secret",
    "generate_key",
    "import_pem",
    "load_private_json",
]
