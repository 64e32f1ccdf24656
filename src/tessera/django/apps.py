"""`INSTALLED_APPS += ["tessera.django"]`: a deactivated or deleted Django user's Tessera
sessions end with it (`tessera.django.signout`). No models, no migrations: Tessera keeps its
own tables."""

from __future__ import annotations

from django.apps import AppConfig


class TesseraConfig(AppConfig):  # type: ignore[misc]  # Django has no type hints
    name = "tessera.django"
    label = "tessera"
    verbose_name = "Tessera"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save

        from tessera.django.signout import on_user_deleted, on_user_saved

        user = get_user_model()
        post_save.connect(on_user_saved, sender=user, dispatch_uid="tessera-user-saved")
        post_delete.connect(on_user_deleted, sender=user, dispatch_uid="tessera-user-deleted")
