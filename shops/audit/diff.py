"""Field values of a row before and after a change, with secrets masked."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import models

from ordersync.crypto import EncryptedTextField

MASK = "••••••"
SECRET_NAME = re.compile(r"secret|token|password|session_key|hash", re.IGNORECASE)
# how much of a long value an entry keeps
MAX_TEXT = 500
# stamped by the dispatcher whenever a schedule moves (shops/schedules.py): not a setting
STAMPS = {"next_sync_at", "next_reconcile_at"}


def is_secret(field: models.Field | str) -> bool:
    if isinstance(field, EncryptedTextField):
        return True
    name = field if isinstance(field, str) else field.name
    return bool(SECRET_NAME.search(name))


def _plain(value: Any) -> Any:  # noqa: ANN401  (any field value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class Secret:
    """A secret's value, held in memory only to tell whether it changed; never stored."""

    def __init__(self, value: object) -> None:
        self._value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return MASK


def snapshot(obj: models.Model) -> dict[str, Any]:
    """The row's concrete fields (foreign keys as ids), but the ones every save stamps
    (``auto_now``, the dispatcher's due times); secrets wrapped in :class:`Secret`."""
    values = {}
    for field in obj._meta.concrete_fields:
        if getattr(field, "auto_now", False) or field.name in STAMPS:
            continue
        value = getattr(obj, field.attname)
        values[field.attname] = Secret(value) if is_secret(field) else _plain(value)
    return values


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` of the fields that differ; a secret shows as masked."""
    changed = {}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if isinstance(old, Secret) or isinstance(new, Secret) or is_secret(name):
            old, new = (MASK if old else ""), (f"{MASK} (new)" if new else "")
        changed[name] = [old, new]
    return changed


def one_change(name: str, before: object, after: object) -> dict[str, list[Any]]:
    """The diff of a single field."""
    return {name: [_plain(before), _plain(after)]}


def masked(details: dict[str, Any]) -> dict[str, Any]:
    """``details`` with the values of secret-looking keys masked, recursively."""
    out: dict[str, Any] = {}
    for key, value in details.items():
        if is_secret(key) and value:
            out[key] = MASK
        elif isinstance(value, dict):
            out[key] = masked(value)
        else:
            out[key] = _plain(value)
    return out
