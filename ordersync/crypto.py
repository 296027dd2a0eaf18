"""Authenticated encryption of secrets at rest (Fernet), with key rotation.

``FIELD_ENCRYPTION_KEYS`` is a list: the first key encrypts, every key decrypts, so a new key
goes first and ``manage.py rotate_encryption_keys`` re-encrypts the stored values with it.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise InvalidToken(
            "a stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS "
            "(was the key that encrypted it removed?)"
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt ``token`` with the first key."""
    return fernet().rotate(token.encode()).decode()


class EncryptedTextField(models.TextField):
    """A text column that holds Fernet ciphertext; Python sees the plain value.

    Empty strings are stored as they are (nothing to hide, and "no token" stays visible).
    """

    def from_db_value(
        self, value: str | None, expression: object, connection: BaseDatabaseWrapper
    ) -> str | None:
        if not value:
            return value
        return decrypt(value)

    def get_prep_value(self, value: object) -> str | None:
        text: str | None = super().get_prep_value(value)
        if not text:
            return text
        return encrypt(text)
