"""`tessera.verify.flask.require`: a real Flask app, driven by its test client."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient

from tessera.tokens import AccessTokenPolicy, SigningKey, generate_key
from tessera.verify import Verifier
from tessera.verify.flask import require

ISSUER, AUDIENCE = "https://auth.test", "tessera-flask-tests"
POLICY = AccessTokenPolicy(issuer=ISSUER, audience=AUDIENCE)
# No credentials: both challenges (RFC 9449 §7.2), the DPoP one with the proof algorithms.
MISSING = 'Bearer realm="tessera", DPoP algs="ES256 ES384 EdDSA Ed25519 RS256 PS256"'


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return generate_key("RS256")


def mint(key: SigningKey, role: str = "user", *, age: float = 0, sub: str = "user-1") -> str:
    return POLICY.mint(key, sub=sub, role=role, sid="sid-1", now=time.time() - age, ttl=600)[0]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def client(key: SigningKey) -> FlaskClient:
    verifier = Verifier.from_jwks({"keys": [key.public_jwk()]}, issuer=ISSUER, audience=AUDIENCE)
    app = Flask(__name__)

    @app.get("/me")
    @require(verifier)
    def me() -> dict[str, Any]:
        return {"sub": g.tessera_claims.sub, "role": g.tessera_claims.role}

    @app.get("/admin")
    @require(verifier, role="admin")
    def admin() -> dict[str, Any]:
        return {"sub": g.tessera_claims.sub}

    @app.get("/staff/<section>")
    @require(verifier, role=["admin", "ops"])
    def staff(section: str) -> dict[str, Any]:
        return {"section": section, "role": g.tessera_claims.role}

    @app.get("/async")
    @require(verifier)
    async def asynchronous() -> dict[str, Any]:
        return {"sub": g.tessera_claims.sub}

    @app.get("/open")
    def open_() -> dict[str, Any]:
        return {"claims": g.get("tessera_claims") is not None}

    return app.test_client()


def assert_refused(response: Any, status: int, error: str, challenge_error: str | None) -> None:
    assert response.status_code == status
    assert response.is_json
    body = response.get_json()
    assert body["error"] == error
    assert set(body) == {"error", "error_description"} and body["error_description"]
    header = response.headers["WWW-Authenticate"]
    assert header.startswith('Bearer realm="tessera"')
    if challenge_error is None:
        assert header == MISSING
    else:
        assert f'error="{challenge_error}"' in header


def test_valid_token_runs_the_view_with_claims_in_g(client: FlaskClient, key: SigningKey) -> None:
    response = client.get("/me", headers=bearer(mint(key, "user")))
    assert response.status_code == 200
    assert response.get_json() == {"sub": "user-1", "role": "user"}


def test_claims_are_not_left_in_g_for_other_requests(client: FlaskClient, key: SigningKey) -> None:
    client.get("/me", headers=bearer(mint(key)))
    assert client.get("/open").get_json() == {"claims": False}


def test_missing_header_is_a_bare_challenge(client: FlaskClient) -> None:
    response = client.get("/me")
    assert_refused(response, 401, "invalid_token", None)
    assert response.get_json()["error_description"] == "missing bearer token"


@pytest.mark.parametrize("kind", ["expired", "bad_signature", "garbage", "empty", "other_key"])
def test_bad_tokens_are_invalid_token(client: FlaskClient, key: SigningKey, kind: str) -> None:
    good = mint(key)
    token = {
        "expired": lambda: mint(key, age=3600),
        # Another token's signature over this token's header and payload.
        "bad_signature": lambda: good.rsplit(".", 1)[0] + "." + mint(key, sub="x").split(".")[2],
        "garbage": lambda: "not-a-jwt",
        "empty": lambda: "",
        "other_key": lambda: mint(generate_key("RS256")),
    }[kind]()
    response = client.get("/me", headers={"Authorization": f"Bearer {token}".strip()})
    assert_refused(response, 401, "invalid_token", "invalid_token")


def test_expired_token_says_so(client: FlaskClient, key: SigningKey) -> None:
    response = client.get("/me", headers=bearer(mint(key, age=3600)))
    assert response.get_json()["error_description"] == "token has expired"
    assert 'error_description="token has expired"' in response.headers["WWW-Authenticate"]


def test_basic_auth_is_refused(client: FlaskClient) -> None:
    response = client.get("/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert_refused(response, 401, "invalid_token", "invalid_token")


def test_wrong_role_is_insufficient_scope(client: FlaskClient, key: SigningKey) -> None:
    response = client.get("/admin", headers=bearer(mint(key, "user")))
    assert_refused(response, 403, "insufficient_scope", "insufficient_scope")
    assert response.get_json()["error_description"] == "this needs the admin role"


def test_right_role_is_let_in(client: FlaskClient, key: SigningKey) -> None:
    response = client.get("/admin", headers=bearer(mint(key, "admin")))
    assert response.status_code == 200
    assert response.get_json() == {"sub": "user-1"}


def test_any_of_several_roles_and_view_arguments(client: FlaskClient, key: SigningKey) -> None:
    response = client.get("/staff/reports", headers=bearer(mint(key, "ops")))
    assert response.get_json() == {"section": "reports", "role": "ops"}
    response = client.get("/staff/reports", headers=bearer(mint(key, "user")))
    assert_refused(response, 403, "insufficient_scope", "insufficient_scope")
    assert response.get_json()["error_description"] == "this needs the admin or ops role"


def test_async_view(client: FlaskClient, key: SigningKey) -> None:
    response = client.get("/async", headers=bearer(mint(key)))
    assert response.status_code == 200
    assert response.get_json() == {"sub": "user-1"}
    assert_refused(client.get("/async"), 401, "invalid_token", None)


def test_decorator_without_a_verifier_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="require"):
        require(lambda: None)  # type: ignore[arg-type]
