"""Ending a Django user's Tessera sessions when Django says they may no longer sign in: the
user is deactivated or deleted (with `tessera.django` in `INSTALLED_APPS`), or your code asks
(`end_sessions(user)`, after a password change, say).

Works in any process — the ASGI server, `manage.py shell`, a Celery worker — because it opens
Tessera's database itself, on an event loop of its own, for the one revocation. The serving
processes then refuse the sessions' refresh tokens at once (the database says so) and their
access tokens within `TESSERA_REVOCATION_POLL_INTERVAL` (their followers hear of it).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tessera.service import AuthService
from tessera.sessions import ClientInfo

__all__ = ["end_sessions", "on_user_deleted", "on_user_saved"]

DJANGO = ClientInfo(ip=None, user_agent="tessera-django")


def end_sessions(user: Any, reason: str = "admin_revoked") -> int:
    """Revoke every Tessera session of a Django user; returns how many were live. Blocking:
    from async code, `await sync_to_async(end_sessions)(user)`."""
    from tessera.django.service import tessera_settings

    subject, settings = str(user.pk), tessera_settings()

    async def revoke() -> int:
        auth = AuthService(settings)
        try:
            await auth.start()
            return await auth.sessions.revoke_all(subject, reason, DJANGO)
        finally:
            await auth.close()

    # A thread of its own: the caller may be on a thread whose event loop is running.
    with ThreadPoolExecutor(1, thread_name_prefix="tessera-end-sessions") as pool:
        return pool.submit(asyncio.run, revoke()).result()


def on_user_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    """`post_save` of the user model: a user saved inactive has no sessions left."""
    if not kwargs.get("created") and not getattr(instance, "is_active", True):
        end_sessions(instance, "user_deactivated")


def on_user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    """`post_delete` of the user model."""
    end_sessions(instance, "user_deleted")
