"""DPoP (RFC 9449): proofs that the sender of a token holds the private key it is bound to.

A light part, shared by the auth server, every verifier and both clients: checking a proof
(`ProofChecker`), the key's RFC 7638 thumbprint, stateless server nonces (`Nonces`), the
replay cache of proof ids (`SeenProofs`), and making proofs (`ProofKey`, for clients).
"""

from tessera.dpop.errors import InvalidProof, UseNonce
from tessera.dpop.keys import PROOF_ALGORITHMS, public_key_of, thumbprint
from tessera.dpop.make import ProofKey
from tessera.dpop.nonces import Nonces
from tessera.dpop.proof import PROOF_TYPE, Proof, ProofChecker, access_token_hash
from tessera.dpop.replay import SeenProofs
from tessera.dpop.urls import normalize_htu

__all__ = [
    "PROOF_ALGORITHMS",
    "PROOF_TYPE",
    "InvalidProof",
    "Nonces",
    "Proof",
    "ProofChecker",
    "ProofKey",
    "SeenProofs",
    "UseNonce",
    "access_token_hash",
    "normalize_htu",
    "public_key_of",
    "thumbprint",
]
