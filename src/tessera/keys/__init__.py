"""Signing keys: the ring, sealed at rest, published as a JWKS."""

from tessera.keys.ring import KeyInfo, KeyRing

__all__ = ["KeyInfo", "KeyRing"]
