"""A real Django project with Tessera beside it, as docs/django.md sets one up: made by
`django-admin startproject`, a DRF view protected by `tessera.verify.drf`, users created
through the ORM, served by uvicorn in a subprocess; then the life of a session over HTTP —
login, the DRF view, expiry, refresh, logout — on SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.asgi_process import uvicorn
from tests.helpers import assert_error, bearer, subprocess_env, wait_until
from tests.services import SECRET, fresh_database

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"
ACCESS_TTL = 2  # seconds: the test waits for a token to expire, polling with a deadline
HTTP_TIMEOUT = 10.0

VIEWS = """
from rest_framework.response import Response
from rest_framework.views import APIView

from tessera.verify.drf import HasRole


class Me(APIView):
    permission_classes = [HasRole()]

    def get(self, request):
        return Response(
            {"sub": request.user.pk, "name": request.user.name, "role": request.auth.role}
        )


class StaffOnly(APIView):
    permission_classes = [HasRole(["staff", "admin"])]

    def get(self, request):
        return Response({"ok": True})
"""

URLS = """
from django.contrib import admin
from django.urls import path

from reports.views import Me, StaffOnly

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/me/", Me.as_view()),
    path("api/staff/", StaffOnly.as_view()),
]
"""

# docs/django.md's asgi.py, word for word
ASGI = """
import os

from django.core.asgi import get_asgi_application

from tessera.django import with_tessera

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
application = with_tessera(get_asgi_application())
"""

SETTINGS = """
INSTALLED_APPS += ["rest_framework", "reports", "tessera.django"]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tessera.verify.drf.TesseraAuthentication"],
    "EXCEPTION_HANDLER": "tessera.verify.drf.exception_handler",
}
TESSERA = {
    "issuer": "https://mysite.test",
    "audience": "mysite-api",
    "data_dir": BASE_DIR / ".tessera",
}
TESSERA_ROLES = {"groups": ["editor"]}
TESSERA_VERIFIER = "tessera.django.verifier"
# the cost of Django's password hash is not under test (Tessera's tests cheapen argon2 alike)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
"""

USERS = f"""
from django.contrib.auth.models import Group, User

User.objects.create_user("alice", password={PASSWORD!r})
User.objects.create_user("sam", password={PASSWORD!r}, is_staff=True)
User.objects.create_user("gone", password={PASSWORD!r}, is_active=False)
editor = User.objects.create_user("eve", password={PASSWORD!r})
editor.groups.add(Group.objects.create(name="editor"))
print(dict(User.objects.values_list("username", "pk")))
"""


# what the admin's "active" checkbox does, from another process
DEACTIVATE = """
from django.contrib.auth.models import User

sam = User.objects.get(username="sam")
sam.is_active = False
sam.save()
"""


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        args,
        cwd=cwd,
        env=subprocess_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def django_project(
    root: Path, database: str | None, extra_settings: str = ""
) -> tuple[Path, dict[str, int]]:
    """A project in `root/mysite` (Django's default database, or PostgreSQL at `database`),
    migrated, with four users; returns its directory and the users' primary keys."""
    root.mkdir()
    django_admin = [sys.executable, "-m", "django"]
    run([*django_admin, "startproject", "mysite"], root)
    project = root / "mysite"
    (project / "reports").mkdir()  # an app of one module (what startapp makes, minus the rest)
    (project / "reports" / "__init__.py").write_text("")
    (project / "reports" / "views.py").write_text(VIEWS)
    (project / "mysite" / "urls.py").write_text(URLS)
    (project / "mysite" / "asgi.py").write_text(ASGI)
    settings = SETTINGS
    if database is not None:
        url = urlsplit(database)
        settings += textwrap.dedent(f"""
            DATABASES = {{"default": {{
                "ENGINE": "django.db.backends.postgresql", "NAME": {url.path[1:]!r},
                "USER": {url.username!r}, "HOST": {url.hostname!r}, "PORT": {url.port!r},
            }}}}
            TESSERA["database_url"] = {database!r}
        """)
    with (project / "mysite" / "settings.py").open("a") as file:
        file.write(settings + textwrap.dedent(extra_settings))
    # manage.py reads the TESSERA settings too (tessera.django is installed): the secret
    env = {"TESSERA_SECRET": SECRET}
    run([sys.executable, "manage.py", "migrate", "--noinput"], project, env)
    out = run([sys.executable, "manage.py", "shell", "-c", USERS], project, env)
    pks: dict[str, int] = eval(out.strip().splitlines()[-1])  # noqa: S307 - our own dict
    return project, pks


def login(http: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    body = {"username": username, "password": password, "transport": "body"}
    return http.post("/auth/login", json=body)


def walk(project: Path, pks: dict[str, int]) -> None:
    env = {
        "TESSERA_SECRET": SECRET,  # required with PostgreSQL, harmless with SQLite
        "TESSERA_DATA_DIR": str(project / ".tessera"),
        "TESSERA_ACCESS_TTL": str(ACCESS_TTL),
        "TESSERA_LEEWAY": "0",
    }
    with (
        uvicorn("mysite.asgi:application", project, env, log_dir=project.parent) as url,
        httpx.Client(base_url=url, timeout=HTTP_TIMEOUT) as http,
    ):
        # Django still serves its own pages; Tessera its endpoints, beside them.
        assert http.get("/admin/login/").status_code == 200
        assert http.get("/.well-known/jwks.json").json()["keys"]
        assert http.get("/auth/tessera.js").status_code == 200
        assert http.get("/api/me/").status_code == 401

        assert_error(login(http, "alice", "wrong password"), 401, "invalid_credentials")
        assert_error(login(http, "gone"), 401, "invalid_credentials")  # inactive
        assert_error(login(http, "nobody"), 401, "invalid_credentials")

        for username, role, staff_page in (("sam", "staff", 200), ("eve", "editor", 403)):
            tokens = login(http, username).json()
            me = http.get("/api/me/", headers=bearer(tokens["access_token"]))
            assert me.json() == {"sub": str(pks[username]), "name": username, "role": role}
            staff_only = http.get("/api/staff/", headers=bearer(tokens["access_token"]))
            assert staff_only.status_code == staff_page, staff_only.text

        signed_in = login(http, "alice")
        assert signed_in.status_code == 200, signed_in.text
        tokens = signed_in.json()
        assert tokens["token_type"] == "Bearer"
        me = http.get("/api/me/", headers=bearer(tokens["access_token"]))
        assert me.status_code == 200, me.text
        assert me.json() == {"sub": str(pks["alice"]), "name": "alice", "role": "user"}

        def expired() -> bool:
            answer = http.get("/api/me/", headers=bearer(tokens["access_token"]))
            return answer.status_code == 401

        wait_until(expired, "the access token to expire", within=ACCESS_TTL + 10)
        stale = http.get("/api/me/", headers=bearer(tokens["access_token"]))
        assert_error(stale, 401, "invalid_token")
        assert 'error="invalid_token"' in stale.headers["WWW-Authenticate"]

        refreshed = http.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text
        fresh = refreshed.json()
        assert fresh["session_id"] == tokens["session_id"]
        me = http.get("/api/me/", headers=bearer(fresh["access_token"]))
        assert me.status_code == 200, me.text
        assert me.json()["sub"] == str(pks["alice"]) and me.json()["name"] == "alice"

        logout = http.post("/auth/logout", json={"refresh_token": fresh["refresh_token"]})
        assert logout.status_code == 204
        # The DRF view reads this process's revoked sessions: refused at once, not at exp.
        gone = http.get("/api/me/", headers=bearer(fresh["access_token"]))
        assert_error(gone, 401, "invalid_token")
        after = http.post("/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
        assert_error(after, 401, "invalid_grant")

        # A user deactivated in Django loses their sessions (tessera.django in INSTALLED_APPS),
        # from a process started in another directory (the settings name Tessera's files).
        sam = login(http, "sam").json()
        manage = str(project / "manage.py")
        run([sys.executable, manage, "shell", "-c", DEACTIVATE], project.parent, env)
        refused = http.post("/auth/refresh", json={"refresh_token": sam["refresh_token"]})
        assert_error(refused, 401, "invalid_grant")
        assert_error(login(http, "sam"), 401, "invalid_credentials")


def test_django_project_on_sqlite(tmp_path: Path) -> None:
    project, pks = django_project(tmp_path / "site", None)
    walk(project, pks)


def test_django_project_on_postgresql(tmp_path: Path) -> None:
    with fresh_database() as database:
        project, pks = django_project(tmp_path / "site", database)
        walk(project, pks)
