"""Django's own users as Tessera's: an `Authenticator` over `django.contrib.auth.authenticate()`
and the mapping from a Django user to a Tessera role."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async

from tessera.users import Principal
from tessera.users.directory import MAX_NAME, MAX_SUBJECT, InvalidUser, check_role

__all__ = ["DjangoUsers", "RoleMap"]

log = logging.getLogger("tessera.django")


@dataclass(frozen=True)
class RoleMap:
    """A Django user's role, the first that applies: `superuser` for `is_superuser`, `staff`
    for `is_staff`, then the first of `groups` the user belongs to (in the order given: a
    group name, which is then the role, or a mapping of group name to role), else `default`.
    `superuser` or `staff` set to None skips that step.

    From the Django settings, `TESSERA_ROLES` (every key optional):

        TESSERA_ROLES = {
            "superuser": "admin",           # the default
            "staff": "staff",               # the default
            "groups": {"Editors": "editor", "Billing": "billing"},  # or ["editor", "billing"]
            "default": "user",              # the default
        }
    """

    superuser: str | None = "admin"
    staff: str | None = "staff"
    groups: Mapping[str, str] = field(default_factory=dict)
    default: str = "user"

    def __post_init__(self) -> None:
        for role in (self.superuser, self.staff, self.default, *self.groups.values()):
            if role is not None:
                try:
                    check_role(role)
                except InvalidUser as exc:
                    raise ValueError(f"TESSERA_ROLES: role {role!r}: {exc}") from None

    @classmethod
    def from_setting(cls, setting: Mapping[str, Any] | None) -> RoleMap:
        """The map a `TESSERA_ROLES` setting describes (None: the defaults)."""
        setting = dict(setting or {})
        unknown = set(setting) - {"superuser", "staff", "groups", "default"}
        if unknown:
            raise ValueError(f"TESSERA_ROLES: unknown keys {sorted(unknown)}")
        groups: Mapping[str, str] | Sequence[str] = setting.pop("groups", {})
        if isinstance(groups, str) or not isinstance(groups, Mapping | Sequence):
            raise ValueError("TESSERA_ROLES['groups'] is a list of group names or a dict")
        if not isinstance(groups, Mapping):
            groups = {name: name for name in groups}
        return cls(groups=dict(groups), **setting)

    def role_of(self, user: Any) -> str:
        """The role of a Django user (reads its groups from the database when `groups` is
        set: call it where the ORM may be used, as `DjangoUsers` does)."""
        if self.superuser is not None and user.is_superuser:
            return self.superuser
        if self.staff is not None and user.is_staff:
            return self.staff
        if self.groups:
            member_of = set(
                user.groups.filter(name__in=list(self.groups)).values_list("name", flat=True)
            )
            for group, role in self.groups.items():
                if group in member_of:
                    return role
        return self.default


class DjangoUsers:
    """Tessera's `Authenticator` over Django's `authenticate()`: every configured backend, its
    password hashers and its signals (`user_login_failed`), in a worker thread. The token's
    `sub` is the user's primary key, its `preferred_username` the username (for display; a
    username may change), its role from `roles`. Inactive users are refused even
    by a backend that lets them through (`AllowAllUsersModelBackend`), and so are users without
    a primary key (a backend that builds users without saving them): their subject would be
    "None" for them all, one identity. A username Tessera cannot store as a name (not
    printable, over 255 characters) is left out of the token."""

    def __init__(self, roles: RoleMap | None = None) -> None:
        self.roles = roles or RoleMap()

    async def authenticate(self, username: str, password: str) -> Principal | None:
        # Not thread-sensitive: a password hash takes a while, and Django's one thread for
        # sync code is the one its sync views run in.
        return await sync_to_async(self._authenticate, thread_sensitive=False)(username, password)

    def _authenticate(self, username: str, password: str) -> Principal | None:
        from django.contrib.auth import authenticate
        from django.db import close_old_connections

        close_old_connections()  # as Django does around each request, in this thread too
        try:
            user = authenticate(None, username=username, password=password)
            if user is None or not getattr(user, "is_active", False):
                return None
            if user.pk is None or not 0 < len(str(user.pk)) <= MAX_SUBJECT:
                log.warning(
                    "login refused: backend %s returned a user with no primary key (or one "
                    "over %d characters), which cannot be a token's subject; save its users",
                    getattr(user, "backend", "?"),
                    MAX_SUBJECT,
                )
                return None
            name = str(user.get_username())
            return Principal(
                subject=str(user.pk),
                role=self.roles.role_of(user),
                name=name if 0 < len(name) <= MAX_NAME and name.isprintable() else None,
            )
        finally:
            close_old_connections()
