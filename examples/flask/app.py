"""A Flask app and Tessera on one origin, in one process (docs/flask.md):

    TESSERA_DATA_DIR=.tessera uvicorn app:application

Tessera answers `/auth/…`, `/oauth/…` and the JWKS; Flask everything else, through a2wsgi.
"""

from a2wsgi import WSGIMiddleware
from flask import Flask, g

from tessera import Settings, Tessera, beside, in_process_verifier
from tessera.verify.flask import require

auth = Tessera(Settings())  # TESSERA_* from the environment, as `tessera serve` reads them
verifier = in_process_verifier(auth)  # this process's keys: no JWKS to fetch

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


application = beside(auth, WSGIMiddleware(app))
