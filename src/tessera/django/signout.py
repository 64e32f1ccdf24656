"""Ending a Django user's Tessera sessions when Django says they may no longer sign in as they
did: the user is deactivated, loses `is_superuser` or `is_staff`, gets a new password, or is
deleted (with `tessera.django` in `INSTALLED_APPS`) — once the transaction that saves it
commits, so a rolled-back change ends nothing and a login inside the transaction does not
survive it; or your code asks (`end_sessions(user)`, after `QuerySet.update()`, say, which
sends no signal).

Works in any process — the ASGI server, `manage.py shell`, a Celery worker — because it opens
Tessera's database itself, on an event loop of its own, for the one revocation. It only opens
it: it never migrates, never makes a key or a secret, and raises `NoTesseraDatabase` (logged)
when the settings point where Tessera's tables are not. The serving processes then refuse the
sessions' refresh tokens at once (the database says so) and their access tokens within
`TESSERA_REVOCATION_POLL_INTERVAL` (their followers hear of it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tessera.logs import redact
from tessera.sessions.service import MINT_MARGIN
from tessera.settings import Settings
from tessera.store import SQLStore
from tessera.store.file_modes import sqlite_file
from tessera.store.records import AuditEvent

__all__ = ["NoTesseraDatabase", "end_sessions", "on_user_deleted", "on_user_saved"]

log = logging.getLogger("tessera.django")

USER_AGENT = "tessera-django"  # in the audit events of the revocations
TABLES = {"alembic_version", "sessions", "revocations", "audit_events"}
# What pre_save found this save takes away: post_save schedules the revocation on commit.
PENDING = "_tessera_ends_sessions"
PRIVILEGES = ("is_superuser", "is_staff")
WATCHED = {"is_active", *PRIVILEGES, "password"}


class NoTesseraDatabase(RuntimeError):
    """Tessera's tables are not where the settings point: no session was revoked."""


def end_sessions(user: Any, reason: str = "admin_revoked") -> int:
    """Revoke every Tessera session of a Django user; returns how many were live. Blocking:
    from async code, `await sync_to_async(end_sessions)(user)`."""
    if user.pk is None:
        raise ValueError("an unsaved user has no Tessera sessions")
    return end_subject_sessions(str(user.pk), reason)


def end_subject_sessions(subject: str, reason: str) -> int:
    from tessera.django.service import tessera_settings

    settings = tessera_settings()
    try:
        # A thread of its own: the caller may be on a thread whose event loop is running.
        with ThreadPoolExecutor(1, thread_name_prefix="tessera-end-sessions") as pool:
            return pool.submit(asyncio.run, _revoke_all(settings, subject, reason)).result()
    except Exception as exc:
        log.error("the Tessera sessions of user %s were not ended (%s): %s", subject, reason, exc)
        raise


async def _revoke_all(settings: Settings, subject: str, reason: str) -> int:
    url = settings.resolved_database_url()
    where = redact(settings.database_url or str(settings.data_dir))
    if url.startswith("sqlite"):
        path, _ = sqlite_file(make_url(url))
        if path is not None and not path.is_file():  # opening it would create it
            raise NoTesseraDatabase(
                f"no Tessera database at {path}: has Tessera (the ASGI server) started with "
                "these TESSERA settings?"
            )
    store = SQLStore.from_url(url, pool_size=1, statement_timeout=settings.db_statement_timeout)
    try:
        async with store.engine.connect() as conn:
            names = set(await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names()))
        if not names >= TABLES:
            raise NoTesseraDatabase(
                f"no Tessera tables in the database ({where}): has Tessera (the ASGI server) "
                "started with these TESSERA settings?"
            )
        now = time.time()
        audit = AuditEvent(now, reason, subject, None, None, USER_AGENT)
        # As `Sessions.revoke_all`: the access tokens already minted end by `not_after`.
        not_after = now + settings.access_ttl + MINT_MARGIN
        return await store.revoke_subject_sessions(subject, now, reason, audit, not_after=not_after)
    finally:
        await store.close()


def on_user_saving(sender: Any, instance: Any, **kwargs: Any) -> None:
    """`pre_save` of the user model: note what this save takes away, against the stored row."""
    instance.__dict__[PENDING] = _taken_away(sender, instance, kwargs)


def _taken_away(sender: Any, instance: Any, kwargs: dict[str, Any]) -> str | None:
    fields = kwargs.get("update_fields")
    if instance._state.adding or (fields is not None and not WATCHED & set(fields)):
        return None  # a new user has no sessions; `update_last_login` changes nothing here
    if not getattr(instance, "is_active", True):
        return "user_deactivated"
    stored = sender._base_manager.using(kwargs.get("using")).filter(pk=instance.pk).first()
    if stored is None:
        return None
    if any(getattr(stored, f, False) and not getattr(instance, f, False) for f in PRIVILEGES):
        return "user_demoted"
    password = getattr(instance, "password", None)
    if password != getattr(stored, "password", None) and (
        # set_password() since the last save: a hash upgrade at login clears `_password`
        getattr(instance, "_password", None) is not None or not instance.has_usable_password()
    ):
        return "password_changed"
    return None


def on_user_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    """`post_save` of the user model: the sessions end once the transaction commits."""
    reason = instance.__dict__.pop(PENDING, None)
    if reason is not None and not kwargs.get("created"):
        _on_commit(str(instance.pk), reason, kwargs.get("using"))


def on_user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    """`post_delete` of the user model."""
    _on_commit(str(instance.pk), "user_deleted", kwargs.get("using"))


def _on_commit(subject: str, reason: str, using: str | None) -> None:
    from django.db import transaction

    # Outside a transaction, at once; inside one, after it commits (and never if it rolls back).
    transaction.on_commit(lambda: end_subject_sessions(subject, reason), using=using)
