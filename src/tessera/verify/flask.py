"""Flask: a view decorator that verifies the bearer token and checks the role.

    verifier = Verifier("https://auth.example/.well-known/jwks.json",
                        issuer="https://auth.example", audience="my-api")

    @app.get("/reports")
    @require(verifier, role="admin")
    def reports():
        return {"user": g.tessera_claims.sub}

The verified `AccessClaims` are `flask.g.tessera_claims`. A missing or bad token is answered
401 `invalid_token` (a bad DPoP proof `invalid_dpop_proof`), a wrong role 403
`insufficient_scope`: the contract's JSON body and the RFC 6750 / RFC 9449
`WWW-Authenticate` challenge. `role` is one role or a collection of them (any of). Async
views work too (Flask's `async` extra).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from typing import ParamSpec, TypeVar

from flask import Response, current_app, g, jsonify, request

from tessera.tokens import AccessClaims
from tessera.verify.admission import claims_for, credential
from tessera.verify.refusal import Refusal, check_role, roles_of
from tessera.verify.verifier import Verifier

__all__ = ["refusal_response", "require"]

P = ParamSpec("P")
R = TypeVar("R")


def require(
    verifier: Verifier, role: str | Collection[str] | None = None
) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
    """A decorator: run the view only for a valid access token (with `role`, if given)."""
    if not callable(getattr(verifier, "verify", None)):
        raise TypeError("use @require(verifier) or @require(verifier, role=...), with a Verifier")
    roles = roles_of(role)

    def decorate(view: Callable[P, R]) -> Callable[P, R | Response]:
        @functools.wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            try:
                g.tessera_claims = _verified(verifier, roles)
            except Refusal as refusal:
                return refusal_response(refusal)
            return current_app.ensure_sync(view)(*args, **kwargs)  # type: ignore[no-any-return]

        return guarded

    return decorate


def _verified(verifier: Verifier, roles: frozenset[str] | None) -> AccessClaims:
    given = credential(
        verifier, request.headers.get("Authorization"), request.headers.getlist("DPoP")
    )
    url = ""
    if given.dpop:
        url = verifier.request_url(request.host_url, request.script_root + request.path)
    return check_role(claims_for(verifier, given, request.method, url), roles)


def refusal_response(refusal: Refusal) -> Response:
    """A `Refusal` as a Flask response: its status, JSON body and headers."""
    response = jsonify(refusal.body)
    response.status_code = refusal.status
    response.headers.update(refusal.headers)
    return response
