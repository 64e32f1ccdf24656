"""Django REST framework + djangorestframework-simplejwt, configured for rotation as its docs
describe: `ROTATE_REFRESH_TOKENS` + `BLACKLIST_AFTER_ROTATION` with the `token_blacklist` app.

Everything else is Django's and simplejwt's defaults (HS256 on the `SECRET_KEY`, PBKDF2
passwords, `startproject`'s middleware), plus the two settings Django's deployment docs advise
for the database: persistent connections (`CONN_MAX_AGE`) and, on SQLite, WAL with immediate
transactions. Runs under gunicorn's sync workers: `gunicorn bench.peers.drf_app:application`.

Configuration from the environment: `BENCH_DATABASE_URL` (`sqlite:///path` or
`postgresql://user@host:port/name`), `BENCH_SECRET`, and `BENCH_JWT_ALG` (`HS256`, the default, or
`RS256` with the PEM keys in `BENCH_JWT_PRIVATE_KEY` / `BENCH_JWT_PUBLIC_KEY`: simplejwt's
`ALGORITHM`, `SIGNING_KEY`, `VERIFYING_KEY`), so it can be compared with Tessera on the same
algorithm. `python -m bench.peers.drf_app setup USER PASSWORD` migrates and creates the user.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import django
from django.conf import settings


def _database(url: str) -> dict[str, Any]:
    if url.startswith("sqlite:///"):
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": url.removeprefix("sqlite:///"),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 10,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": parts.username or "postgres",
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or 5432),
        "CONN_MAX_AGE": 60,
    }


def _algorithm() -> dict[str, str]:
    alg = os.environ.get("BENCH_JWT_ALG", "HS256")
    if alg == "HS256":
        return {}
    return {
        "ALGORITHM": alg,
        "SIGNING_KEY": os.environ["BENCH_JWT_PRIVATE_KEY"],
        "VERIFYING_KEY": os.environ["BENCH_JWT_PUBLIC_KEY"],
    }


settings.configure(
    DEBUG=False,
    SECRET_KEY=os.environ.get("BENCH_SECRET", "bench-" + "s" * 40),
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    USE_TZ=True,
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "rest_framework",
        "rest_framework_simplejwt.token_blacklist",
    ],
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ],
    DATABASES={"default": _database(os.environ.get("BENCH_DATABASE_URL", "sqlite:///drf.db"))},
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": (
            "rest_framework_simplejwt.authentication.JWTAuthentication",
        ),
        "DEFAULT_PERMISSION_CLASSES": ("rest_framework.permissions.IsAuthenticated",),
    },
    SIMPLE_JWT={
        "ACCESS_TOKEN_LIFETIME": timedelta(minutes=10),  # Tessera's default
        "REFRESH_TOKEN_LIFETIME": timedelta(days=14),
        "ROTATE_REFRESH_TOKENS": True,
        "BLACKLIST_AFTER_ROTATION": True,
        **_algorithm(),
    },
    LOGGING_CONFIG=None,
    **(
        # `BENCH_CHEAP_LOGINS`: a variant whose logins only set its users up (not measured).
        {"PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"]}
        if os.environ.get("BENCH_CHEAP_LOGINS")
        else {}
    ),
)
django.setup()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView  # noqa: E402


class Me(APIView):
    """The protected resource: who the access token says you are."""

    def get(self, request: Request) -> Response:
        user = request.user
        return Response({"sub": str(user.pk), "username": user.get_username()})


urlpatterns = [
    path("api/token/", TokenObtainPairView.as_view()),
    path("api/token/refresh/", TokenRefreshView.as_view()),
    path("api/me", Me.as_view()),
]

application = WSGIHandler()


def setup(username: str, password: str) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    get_user_model().objects.create_user(username=username, password=password)


if __name__ == "__main__" and sys.argv[1:2] == ["setup"]:
    setup(sys.argv[2], sys.argv[3])
