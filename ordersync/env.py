"""Strict reading of settings from the environment.

Every value goes through :func:`read`, which turns a missing or malformed value into one
:class:`ImproperlyConfigured` naming the variable.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()


def read(name: str, cast: Callable[..., Any], **kwargs: Any) -> Any:
    """Read ``name`` with ``env.<cast>``; any problem names the variable."""
    try:
        return cast(name, **kwargs)
    except ImproperlyConfigured as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise ImproperlyConfigured(
            f"{name}={env.str(name, default='')!r} is not valid: {exc}"
        ) from None


def positive_int(name: str, default: int) -> int:
    value = read(name, env.int, default=default)
    if value <= 0:
        raise ImproperlyConfigured(f"{name}={value} must be a positive whole number")
    return value


def fernet_keys(name: str, keys: list[str]) -> list[str]:
    """Check that every key is a Fernet key: 32 bytes, url-safe base64."""
    for index, key in enumerate(keys):
        try:
            raw = base64.urlsafe_b64decode(key.encode())
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise ImproperlyConfigured(
                f"{name}: key #{index + 1} is not a Fernet key (32 url-safe base64 bytes); "
                'make one with python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"'
            )
    return keys
