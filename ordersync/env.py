"""Strict reading of settings from the environment.

Every value goes through :func:`read`, which turns a missing or malformed value into one
:class:`ImproperlyConfigured` naming the variable.
"""

from __future__ import annotations

import base64
import binascii
import re
import zoneinfo
from collections.abc import Callable
from typing import Any, TypeVar

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()
T = TypeVar("T")


def read(name: str, cast: Callable[..., T], **kwargs: Any) -> T:
    """Read ``name`` with ``env.<cast>``; any problem names the variable."""
    try:
        return cast(name, **kwargs)
    except ImproperlyConfigured as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise ImproperlyConfigured(
            f"{name}={env.str(name, default='')!r} is not valid: {exc}"
        ) from None


TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})


def boolean(name: str, default: bool) -> bool:
    """Read a boolean strictly: django-environ would turn any unknown word into False."""
    raw = env.str(name, default="")
    if raw == "":
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use True or False")


def positive_int(name: str, default: int) -> int:
    value: int = read(name, env.int, default=default)
    if value <= 0:
        raise ImproperlyConfigured(f"{name}={value} must be a positive whole number")
    return value


def non_negative_int(name: str, default: int) -> int:
    value: int = read(name, env.int, default=default)
    if value < 0:
        raise ImproperlyConfigured(f"{name}={value} must not be negative")
    return value


def positive_number(name: str, default: float) -> float:
    value: float = read(name, env.float, default=default)
    if not value > 0:  # also refuses nan
        raise ImproperlyConfigured(f"{name}={value} must be a positive number")
    return value


def matching(name: str, default: str, pattern: str, expected: str) -> str:
    """A string that must match ``pattern``; ``expected`` says what it should look like."""
    value: str = read(name, env.str, default=default)
    if not re.fullmatch(pattern, value):
        raise ImproperlyConfigured(f"{name}={value!r} is not valid: expected {expected}")
    return value


def time_zone(name: str, default: str) -> str:
    value: str = read(name, env.str, default=default)
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a time zone: expected a name such as Asia/Shanghai"
        ) from None
    return value


SECRET_KEY_MIN_LENGTH = 50
# words of the placeholders people copy from examples (ours in .env.example included)
PLACEHOLDER_WORDS = ("change-me", "changeme", "django-insecure", "replace-me", "your-secret")


def check_secret_key(name: str, key: str) -> None:
    """Refuse a production key that is short, repetitive or an example's placeholder.

    The limits are those of Django's own ``security.W009`` check, made an error here.
    """
    lowered = key.lower()
    if any(word in lowered for word in PLACEHOLDER_WORDS):
        raise ImproperlyConfigured(
            f"{name} is a placeholder; set a random one when DEBUG=False, e.g. "
            'python -c "import secrets; print(secrets.token_urlsafe(50))"'
        )
    if len(key) < SECRET_KEY_MIN_LENGTH or len(set(key)) < 5:
        raise ImproperlyConfigured(
            f"{name} is too weak for DEBUG=False: use at least {SECRET_KEY_MIN_LENGTH} random "
            'characters, e.g. python -c "import secrets; print(secrets.token_urlsafe(50))"'
        )


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
