"""Logins through `DjangoUsers` that Django allows but Tessera cannot take as they are, in a
real project served by uvicorn: a backend whose users have no primary key (an LDAP- or
API-style backend building unsaved users) is refused, with a warning naming it, instead of
giving all its users the one subject "None"; a username Tessera cannot store as a name
(not printable) signs in without `preferred_username` instead of failing with a 500."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import httpx
import pytest

from tests.asgi_process import uvicorn
from tests.helpers import assert_error, bearer
from tests.services import SECRET
from tests.test_django_project import HTTP_TIMEOUT, PASSWORD, django_project, login, run

pytestmark = pytest.mark.slow

# What such backends do: check the password elsewhere, build a user, never save it.
BACKEND = """
from django.contrib.auth import get_user_model


class Stateless:
    def authenticate(self, request, username=None, password=None):
        if username == "carol" and password == "from-the-directory":
            return get_user_model()(username=username, is_active=True)
        return None

    def get_user(self, user_id):
        return None
"""

SETTINGS = """
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "mysite.backends.Stateless",
]
"""

# Django's create_user does not validate usernames: a zero-width space gets in.
UNPRINTABLE = "zoe\u200b"
USERS = f"""
from django.contrib.auth.models import User

print(User.objects.create_user({UNPRINTABLE!r}, password={PASSWORD!r}).pk)
"""


def claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def test_users_without_a_primary_key_are_refused_and_unprintable_names_left_out(
    tmp_path: Path,
) -> None:
    project, _ = django_project(tmp_path / "site", None, SETTINGS)  # with TESSERA_ROLES groups
    (project / "mysite" / "backends.py").write_text(BACKEND)
    zoe_pk = run([sys.executable, "manage.py", "shell", "-c", USERS], project).split()[-1]
    env = {"TESSERA_SECRET": SECRET}
    with (
        uvicorn("mysite.asgi:application", project, env, log_dir=project.parent) as url,
        httpx.Client(base_url=url, timeout=HTTP_TIMEOUT) as http,
    ):
        refused = login(http, "carol", "from-the-directory")
        assert_error(refused, 401, "invalid_credentials")
        # The model's users still sign in, the backend's refusal changes nothing for them.
        assert login(http, "alice").status_code == 200

        signed_in = login(http, UNPRINTABLE)
        assert signed_in.status_code == 200, signed_in.text
        me = http.get("/api/me/", headers=bearer(signed_in.json()["access_token"]))
        assert me.status_code == 200, me.text
        assert me.json()["sub"] == zoe_pk and me.json()["role"] == "user"
        assert "preferred_username" not in claims(signed_in.json()["access_token"])
    log = (project.parent / "uvicorn.log").read_text()
    assert "mysite.backends.Stateless" in log and "no primary key" in log, log
