"""`TESSERA_ROLES` read as docs/django.md describes it, and its mistakes refused at start-up
(the group step against a database is walked in test_django_project)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tessera.django import RoleMap


def user(superuser: bool = False, staff: bool = False) -> SimpleNamespace:
    return SimpleNamespace(is_superuser=superuser, is_staff=staff)


def test_the_defaults() -> None:
    roles = RoleMap.from_setting(None)
    assert roles.role_of(user(superuser=True, staff=True)) == "admin"
    assert roles.role_of(user(staff=True)) == "staff"
    assert roles.role_of(user()) == "user"


def test_steps_can_be_renamed_or_skipped_and_groups_listed_or_mapped() -> None:
    roles = RoleMap.from_setting({"superuser": "root", "staff": None, "default": "member"})
    assert roles.role_of(user(superuser=True)) == "root"
    assert roles.role_of(user(staff=True)) == "member"
    assert RoleMap.from_setting({"groups": ["editor", "billing"]}).groups == {
        "editor": "editor",
        "billing": "billing",
    }
    mapped = RoleMap.from_setting({"groups": {"Editors": "editor"}})
    assert mapped.groups == {"Editors": "editor"}


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ({"admins": "admin"}, "unknown keys"),
        ({"groups": "editor"}, "list of group names"),
        ({"groups": {"Site Editors": "site editor"}}, "'site editor'"),
        ({"default": ""}, "role ''"),
    ],
)
def test_mistakes_are_refused(setting: dict[str, object], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        RoleMap.from_setting(setting)
