"""The same Flask app behind a reverse proxy (docs/flask.md): Flask under any WSGI server
(`gunicorn -b 127.0.0.1:8000 proxied:app`), `tessera serve --port 8001` beside it, nginx in
front of both on one origin (nginx.conf). Views verify tokens with Tessera's JWKS and follow
its revocations, fetched over loopback."""

import os

from flask import Flask, g

from tessera.revocations.feed import RevocationFeed
from tessera.verify import Verifier
from tessera.verify.flask import require
from tessera.verify.jwks import JWKSCache

TESSERA = os.environ.get("TESSERA_INTERNAL_URL", "http://127.0.0.1:8001")  # not via nginx

verifier = Verifier(
    issuer=os.environ.get("TESSERA_ISSUER", "tessera"),
    audience=os.environ.get("TESSERA_AUDIENCE", "tessera"),
    # plain http only because it is loopback; across machines keep the default (https only)
    jwks=JWKSCache(f"{TESSERA}/.well-known/jwks.json", allow_http=True),
    revocations=RevocationFeed(f"{TESSERA}/auth/revocations", allow_http=True),
)

app = Flask(__name__)


@app.get("/")
def index():
    return {"hello": "world"}


@app.get("/api/profile")
@require(verifier)
def profile():
    claims = g.tessera_claims
    return {"sub": claims.sub, "name": claims.name, "role": claims.role}


@app.get("/api/admin")
@require(verifier, role="admin")
def admin():
    return {"ok": True}
