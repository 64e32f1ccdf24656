"""Flask + flask-jwt-extended with refresh-token rotation over a database blocklist, following
its documentation's recipes: "Refreshing Tokens" (a `jwt_required(refresh=True)` route) and
"JWT Revoking / Blocklist" (a SQLAlchemy `TokenBlocklist` model checked by
`token_in_blocklist_loader` on every token). Rotation, which the library leaves to the app, is
the refresh route revoking the presented token's `jti` and returning a new pair.

Defaults otherwise (HS256 on `JWT_SECRET_KEY`), passwords with Werkzeug's hasher. Runs under
gunicorn's sync workers: `gunicorn bench.peers.flask_app:app`. Configuration:
`BENCH_DATABASE_URL` (SQLAlchemy URL), `BENCH_SECRET`, `BENCH_JWT_ALG` (`HS256`, the default, or
`RS256` with the PEM keys in `BENCH_JWT_PRIVATE_KEY` / `BENCH_JWT_PUBLIC_KEY`:
`JWT_ALGORITHM`, `JWT_PRIVATE_KEY`, `JWT_PUBLIC_KEY`); `python -m bench.peers.flask_app setup
USER PASSWORD` creates the tables and the user.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.serialization import (
    load_pem_private_key,
    load_pem_public_key,
)
from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    create_refresh_token,
    get_jwt,
    get_jwt_identity,
    jwt_required,
)
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class User(db.Model):  # type: ignore[name-defined,misc]
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(db.String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(db.String(256))


class TokenBlocklist(db.Model):  # type: ignore[name-defined,misc]
    id: Mapped[int] = mapped_column(primary_key=True)
    jti: Mapped[str] = mapped_column(db.String(36), nullable=False, index=True)
    type: Mapped[str] = mapped_column(db.String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False)


def _database_url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL", "sqlite:///flask.db")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


app = Flask(__name__)
app.config.update(
    SQLALCHEMY_DATABASE_URI=_database_url(),
    JWT_SECRET_KEY=os.environ.get("BENCH_SECRET", "bench-" + "s" * 40),
    JWT_ACCESS_TOKEN_EXPIRES=timedelta(minutes=10),  # Tessera's default
    JWT_REFRESH_TOKEN_EXPIRES=timedelta(days=14),
)
if (_alg := os.environ.get("BENCH_JWT_ALG", "HS256")) != "HS256":
    # Key objects, parsed once: given the PEM strings (as its docs show), PyJWT parses and
    # checks the RSA key again for every token it signs, ~50x the signature itself. The
    # comparison is with the library at its best.
    app.config.update(
        JWT_ALGORITHM=_alg,
        JWT_PRIVATE_KEY=load_pem_private_key(os.environ["BENCH_JWT_PRIVATE_KEY"].encode(), None),
        JWT_PUBLIC_KEY=load_pem_public_key(os.environ["BENCH_JWT_PUBLIC_KEY"].encode()),
    )
jwt = JWTManager(app)
db.init_app(app)

if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
    with app.app_context():

        @event.listens_for(db.engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()


@jwt.token_in_blocklist_loader
def check_if_token_revoked(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
    jti = payload["jti"]
    token = db.session.query(TokenBlocklist.id).filter_by(jti=jti).scalar()
    return token is not None


@app.post("/login")
def login() -> ResponseReturnValue:
    body = request.get_json(silent=True) or {}
    user = db.session.execute(
        db.select(User).filter_by(username=str(body.get("username", "")))
    ).scalar_one_or_none()
    if user is None or not check_password_hash(user.password_hash, str(body.get("password"))):
        return jsonify(msg="Wrong username or password"), 401
    identity = str(user.id)
    return jsonify(
        access_token=create_access_token(identity=identity),
        refresh_token=create_refresh_token(identity=identity),
    )


@app.post("/refresh")
@jwt_required(refresh=True)
def refresh() -> ResponseReturnValue:
    identity = get_jwt_identity()
    db.session.add(
        TokenBlocklist(jti=get_jwt()["jti"], type="refresh", created_at=datetime.now(UTC))
    )
    db.session.commit()
    return jsonify(
        access_token=create_access_token(identity=identity),
        refresh_token=create_refresh_token(identity=identity),
    )


@app.get("/api/me")
@jwt_required()
def me() -> ResponseReturnValue:
    return jsonify(sub=get_jwt_identity())


def setup(username: str, password: str) -> None:
    with app.app_context():
        db.create_all()
        # `BENCH_CHEAP_LOGINS`: a variant whose logins only set its users up (not measured).
        method = "pbkdf2:sha256:1000" if os.environ.get("BENCH_CHEAP_LOGINS") else "scrypt"
        password_hash = generate_password_hash(password, method=method)
        db.session.add(User(username=username, password_hash=password_hash))
        db.session.commit()


if __name__ == "__main__" and sys.argv[1:2] == ["setup"]:
    setup(sys.argv[2], sys.argv[3])
