"""Verification for resource servers: `Verifier`, the JWKS cache, framework adapters."""

from tessera.tokens import AccessClaims, InvalidToken
from tessera.tokens.access import RFC9068_CLAIMS, TESSERA_CLAIMS
from tessera.verify.jwks import JWKSCache, JWKSError, parse_key_set
from tessera.verify.verifier import Verifier

__all__ = [
    "RFC9068_CLAIMS",
    "TESSERA_CLAIMS",
    "AccessClaims",
    "InvalidToken",
    "JWKSCache",
    "JWKSError",
    "Verifier",
    "parse_key_set",
]
