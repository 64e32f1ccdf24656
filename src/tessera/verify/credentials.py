"""What a request presents: `Authorization: Bearer <token>`, or `Authorization: DPoP <token>`
with a `DPoP` proof header (RFC 9449 §7.1), and the URL its proof must name. Parsed the same
way by every adapter and by the auth server, so they refuse the same things."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from tessera.verify.refusal import invalid_token, missing_token

BEARER, DPOP = "Bearer", "DPoP"
# Characters a path keeps as they are (RFC 3986 pchar and "/"): the rest is percent-encoded.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


@dataclass(frozen=True, slots=True)
class Credential:
    """The access token, its scheme, and every `DPoP` header value that came with it (more
    than one is refused when the proof is checked)."""

    scheme: str
    token: str
    proofs: tuple[str, ...] = ()

    @property
    def dpop(self) -> bool:
        return self.scheme == DPOP

    @property
    def proof(self) -> str | None:
        return self.proofs[0] if len(self.proofs) == 1 else None


def credential_of(
    authorization: str | None, proofs: Iterable[str] = (), algs: Sequence[str] | None = None
) -> Credential:
    """The request's credential, or a `Refusal`: none at all (both challenges when `algs`, the
    DPoP algorithms, say DPoP is accepted), or a scheme other than Bearer (and DPoP, when
    accepted), or no token after the scheme."""
    if authorization is None:
        raise missing_token(algs)
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token:
        return Credential(BEARER, token)
    if scheme.lower() == "dpop" and token and algs:
        return Credential(DPOP, token, proof_values(proofs))
    raise invalid_token(
        "authorization header is not a bearer or DPoP token"
        if algs
        else "authorization header is not a bearer token"
    )


def presented(headers: Iterable[tuple[bytes, bytes]]) -> tuple[str | None, list[str]]:
    """The first `Authorization` header and every `DPoP` header of an ASGI request's raw
    headers (names in lowercase, as ASGI gives them): one pass, rather than one lookup of
    each in Starlette's `Headers`."""
    authorization: str | None = None
    proofs: list[str] = []
    for name, value in headers:
        if name == b"authorization":
            if authorization is None:
                authorization = value.decode("latin-1")
        elif name == b"dpop":
            proofs.append(value.decode("latin-1"))
    return authorization, proofs


def proof_values(headers: Iterable[str]) -> tuple[str, ...]:
    """The `DPoP` header values. A WSGI server joins repeated headers with commas (PEP 3333),
    and a proof never holds one: split, so two headers count as two wherever they came in."""
    return tuple(part.strip() for value in headers for part in value.split(","))


def request_url(url: str, path: str, public_url: str | None = None) -> str:
    """The URL a proof's `htu` must name: `public_url` (for a service behind a proxy) or the
    scheme and host of `url` (the request as the framework saw it), then `path`, the request's
    decoded path with any mount prefix, percent-encoded again."""
    if public_url is None:
        try:
            parts = urlsplit(url)
        except ValueError:  # a Host header no URL can hold: no proof can name it either
            return ""
        public_url = f"{parts.scheme}://{parts.netloc}"
    return public_url.rstrip("/") + quote(path or "/", safe=_PATH_SAFE)
