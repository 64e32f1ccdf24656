"""The one Tessera of a Django process, built from the Django settings: served beside Django's
ASGI application (`with_tessera`), and verifying access tokens for DRF and Django views
(`verifier`) from the same key ring."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy.engine import make_url

from tessera.django.users import DjangoUsers, RoleMap
from tessera.http.beside import beside
from tessera.http.in_process import in_process_verifier
from tessera.http.mount import Tessera
from tessera.settings import Settings
from tessera.store.file_modes import sqlite_file
from tessera.users import Authenticator
from tessera.verify.verifier import Verifier

__all__ = ["service", "tessera_settings", "verifier", "where_from_anywhere", "with_tessera"]

_lock = threading.Lock()
_built: tuple[Tessera, Verifier] | None = None


def tessera_settings() -> Settings:
    """`Settings(**settings.TESSERA)`: what the Django settings give, the rest from
    `TESSERA_*` environment variables and `tessera.toml`, as `tessera serve` reads them.
    `ImproperlyConfigured` unless they place Tessera's files absolutely (`where_from_anywhere`)."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    configured: dict[str, Any] = dict(getattr(settings, "TESSERA", None) or {})
    built = Settings(**configured)
    problem = where_from_anywhere(built)
    if problem is not None:
        raise ImproperlyConfigured(problem)
    return built


def where_from_anywhere(settings: Settings) -> str | None:
    """Why these settings would find another database (or secret) from another working
    directory, or None. Every Django process — the ASGI server, `manage.py` run from anywhere,
    a task worker — must open the same Tessera database, or a deactivation revokes nothing
    in a fresh empty database of its own."""
    how = (
        'set TESSERA["data_dir"] to an absolute path (BASE_DIR / ".tessera"), or '
        'TESSERA["database_url"] (with a secret); the environment\'s TESSERA_DATA_DIR and '
        "TESSERA_DATABASE_URL count too"
    )
    url, data_dir = settings.database_url, settings.data_dir
    if url is None and not data_dir.is_absolute():
        return f"TESSERA: data_dir {str(data_dir)!r} is a relative path: {how}"
    if url is not None and url.startswith("sqlite"):
        path, _ = sqlite_file(make_url(settings.resolved_database_url()))
        if path is None:
            return f"TESSERA: an in-memory SQLite database is not shared between processes: {how}"
        if not path.is_absolute():
            return f"TESSERA: the SQLite database {str(path)!r} is a relative path: {how}"
    if settings.secret is None and not data_dir.is_absolute():
        return (
            f"TESSERA: data_dir {str(data_dir)!r}, where the generated secret is kept, is "
            f"relative to the directory: {how}"
        )
    return None


def _build(authenticator: Authenticator | None = None) -> tuple[Tessera, Verifier]:
    global _built
    with _lock:
        if _built is None:
            from django.conf import settings

            if authenticator is None:
                roles = RoleMap.from_setting(getattr(settings, "TESSERA_ROLES", None))
                authenticator = DjangoUsers(roles)
            auth = Tessera(tessera_settings(), authenticator=authenticator)
            _built = (auth, in_process_verifier(auth))
        elif authenticator is not None and _built[0].authenticator is not authenticator:
            raise RuntimeError("this process's Tessera is built already, with its authenticator")
        return _built


def service() -> Tessera:
    """This process's Tessera: `tessera_settings()`, with Django's users (`DjangoUsers`, roles
    from `settings.TESSERA_ROLES`)."""
    return _build()[0]


def verifier() -> Verifier:
    """The `Verifier` for `TESSERA_VERIFIER = "tessera.django.verifier"`: this process's keys
    and revoked sessions, in memory (`tessera.http.in_process`)."""
    return _build()[1]


def with_tessera(django_app: Any, authenticator: Authenticator | None = None) -> Any:
    """Django's ASGI application with Tessera's endpoints beside it (`tessera.http.beside`):
    `/auth/…`, `/oauth/…`, the JWKS and the OAuth metadata go to Tessera, the rest to
    Django. `authenticator`: another than `DjangoUsers` with `TESSERA_ROLES` (a subclass, say);
    `verifier()` serves the same Tessera either way."""
    return beside(_build(authenticator)[0], django_app)
