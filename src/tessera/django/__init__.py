"""Tessera in a Django project, in the same process: Django keeps its users, admin and views;
Tessera adds its endpoints and checks passwords with Django's `authenticate()`.

    # mysite/asgi.py
    import os

    from django.core.asgi import get_asgi_application
    from tessera.django import with_tessera

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    application = with_tessera(get_asgi_application())

    # mysite/settings.py
    INSTALLED_APPS += ["tessera.django"]  # optional: deactivated users' sessions end
    TESSERA = {  # tessera.Settings; an absolute data_dir (or a database_url) is required
        "issuer": "https://example.com",
        "audience": "example-api",
        "data_dir": BASE_DIR / ".tessera",
    }
    TESSERA_ROLES = {"groups": ["editor"]}       # optional: see RoleMap
    TESSERA_VERIFIER = "tessera.django.verifier"  # for tessera.verify.drf / tessera.verify.django

Run it with any ASGI server: `uvicorn mysite.asgi:application`. docs/django.md has the rest.
"""

from tessera.django.service import service, tessera_settings, verifier, with_tessera
from tessera.django.signout import NoTesseraDatabase, end_sessions
from tessera.django.users import DjangoUsers, RoleMap

__all__ = [
    "DjangoUsers",
    "NoTesseraDatabase",
    "RoleMap",
    "end_sessions",
    "service",
    "tessera_settings",
    "verifier",
    "with_tessera",
]
