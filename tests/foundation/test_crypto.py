"""Secrets are ciphertext in the database, plain in Python, and rotate to a new key."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection

from ordersync.crypto import _fernet
from shops.models import Shop, TopApp


def raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_columns_hold_ciphertext_and_round_trip(shop_a):
    stored = raw("shops_shop", "session_key", shop_a.pk)
    assert stored != "sk-a" and "sk-a" not in stored
    assert Shop.objects.get(pk=shop_a.pk).session_key == "sk-a"
    assert "helloworld" not in raw("shops_topapp", "app_secret", shop_a.app_id)
    assert TopApp.objects.get(pk=shop_a.app_id).app_secret == "helloworld"


def test_secrets_stay_out_of_str_and_repr(shop_a):
    for text in (str(shop_a), repr(shop_a), str(shop_a.app), repr(shop_a.app)):
        assert "sk-a" not in text and "helloworld" not in text


def test_empty_secret_stays_empty(shop_a):
    Shop.objects.filter(pk=shop_a.pk).update(refresh_token="")
    assert raw("shops_shop", "refresh_token", shop_a.pk) == ""


def test_rotation_re_encrypts_with_the_new_key(shop_a, settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    old_cipher = raw("shops_shop", "session_key", shop_a.pk)
    new_key = Fernet.generate_key().decode()

    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    assert Shop.objects.get(pk=shop_a.pk).session_key == "sk-a"  # old ciphertext still reads
    call_command("rotate_encryption_keys")
    new_cipher = raw("shops_shop", "session_key", shop_a.pk)
    assert new_cipher != old_cipher
    assert Fernet(new_key).decrypt(new_cipher.encode()) == b"sk-a"

    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key can now go
    assert Shop.objects.get(pk=shop_a.pk).session_key == "sk-a"
    assert TopApp.objects.get(pk=shop_a.app_id).app_secret == "helloworld"


def test_a_removed_key_is_a_clear_error(shop_a, settings):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    _fernet.cache_clear()
    with pytest.raises(InvalidToken, match="FIELD_ENCRYPTION_KEYS"):
        Shop.objects.get(pk=shop_a.pk)
