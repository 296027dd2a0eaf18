"""Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Model

from ordersync.crypto import EncryptedTextField


def encrypted_fields() -> Iterator[tuple[type[Model], list[str]]]:
    """Yield ``(model, [field names])`` for every model with encrypted columns."""
    for model in apps.get_models():
        names = [f.name for f in model._meta.fields if isinstance(f, EncryptedTextField)]
        if names:
            yield model, names


def rotate_encryption_keys() -> int:
    """Re-encrypt all secrets with the current first key; return how many rows were rewritten."""
    rewritten = 0
    for model, names in encrypted_fields():
        with transaction.atomic():
            # Reading decrypts with any key; writing encrypts with the first one.
            for row in model._default_manager.select_for_update().only("pk", *names).iterator():
                model._default_manager.filter(pk=row.pk).update(
                    **{n: getattr(row, n) for n in names}
                )
                rewritten += 1
    return rewritten


class Command(BaseCommand):
    help = "Re-encrypt stored secrets with the first key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        count = rotate_encryption_keys()
        self.stdout.write(f"re-encrypted {count} rows with the first FIELD_ENCRYPTION_KEYS key")
