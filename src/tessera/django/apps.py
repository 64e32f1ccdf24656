"""`INSTALLED_APPS += ["tessera.django"]`: a Django user's Tessera sessions end when the user
is deactivated, demoted, given a new password or deleted (`tessera.django.signout`), and
Django refuses to start on TESSERA settings that would find another Tessera database from
another directory. No models, no migrations: Tessera keeps its own tables."""

from __future__ import annotations

from django.apps import AppConfig


class TesseraConfig(AppConfig):  # type: ignore[misc]  # Django has no type hints
    name = "tessera.django"
    label = "tessera"
    verbose_name = "Tessera"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save, pre_save

        from tessera.django.service import tessera_settings
        from tessera.django.signout import on_user_deleted, on_user_saved, on_user_saving

        tessera_settings()  # ImproperlyConfigured now, not at the first deactivation
        user = get_user_model()
        pre_save.connect(on_user_saving, sender=user, dispatch_uid="tessera-user-saving")
        post_save.connect(on_user_saved, sender=user, dispatch_uid="tessera-user-saved")
        post_delete.connect(on_user_deleted, sender=user, dispatch_uid="tessera-user-deleted")
