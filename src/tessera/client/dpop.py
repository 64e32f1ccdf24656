"""The client's DPoP: a key per session, a proof on every request that carries the session's
tokens, and the server nonces (`DPoP-Nonce`) each origin handed out, used in the next proof to
that origin (RFC 9449 §8, §9)."""

from __future__ import annotations

import httpx

from tessera.client.origins import Origin, origin_of
from tessera.clock import Clock
from tessera.dpop import ProofKey

NONCE_HEADER = "dpop-nonce"


class ProofSigner:
    """Signs proofs with the session's key (None: not bound, no proofs), remembering nonces."""

    def __init__(self, key: ProofKey | None, clock: Clock) -> None:
        self.key = key
        self._clock = clock
        self._nonces: dict[Origin | None, str] = {}

    def proof_headers(
        self, method: str, url: httpx.URL | str, access_token: str | None = None
    ) -> dict[str, str]:
        """`{"DPoP": proof}` for a request of `method` to `url` (none without a key)."""
        if self.key is None:
            return {}
        url = httpx.URL(url)
        proof = self.key.proof(
            method,
            str(url),
            now=self._clock.now(),
            access_token=access_token,
            nonce=self._nonces.get(origin_of(url)),
        )
        return {"DPoP": proof}

    def remember_nonce(self, response: httpx.Response) -> bool:
        """Keep the nonce a response hands out; True if it did."""
        nonce = response.headers.get(NONCE_HEADER)
        if not nonce:
            return False
        self._nonces[origin_of(response.request.url)] = nonce
        return True

    def asks_for_nonce(self, response: httpx.Response) -> bool:
        """The server wants the proof again with its nonce (remembered by this call): 400
        `use_dpop_nonce` from a token endpoint, or 401 with a `use_dpop_nonce` challenge."""
        if response.status_code == 401:
            asked = "use_dpop_nonce" in response.headers.get("www-authenticate", "")
        elif response.status_code == 400:
            asked = _error_code(response) == "use_dpop_nonce"
        else:
            asked = False
        return asked and self.remember_nonce(response)


def _error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("error") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None
