"""Actions on API keys: create, revoke, rotate, and finding the key a token belongs to."""

from __future__ import annotations

import copy
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from shops import audit, caps
from shops.audit.diff import diff, one_change, snapshot
from shops.models import Tenant
from trades.api.key_models import ApiKey

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

TOKEN_PREFIX = "osk"
# Writing last_used_at on every request would turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# How long a process trusts a key it read (revocation elsewhere takes at most this long) and
# how many keys it keeps; reading the key on every request cost more than listing a page.
KEY_CACHE_SECONDS = 5.0
KEY_CACHE_SIZE = 10_000
_recent: dict[str, tuple[float, ApiKey]] = {}


@dataclass(frozen=True)
class IssuedKey:
    """A new key and its token; the token is shown to its owner this once, never stored."""

    key: ApiKey
    token: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> tuple[str, str]:
    prefix = secrets.token_hex(6)
    return prefix, f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"


@transaction.atomic
def create_api_key(
    tenant: Tenant,
    name: str,
    scope: str = ApiKey.Scope.READ,
    *,
    expires_at: datetime | None = None,
    created_by: AbstractBaseUser | None = None,
    capped: bool = True,
    audited: bool = True,
) -> IssuedKey:
    """Create a key for ``tenant``; the returned token is the only copy there will be.

    Raises :class:`~shops.caps.OverCap` if the tenant has ``TENANT_MAX_API_KEYS`` usable
    keys already (``capped=False``: a rotation, which replaces one). ``audited=False``: the
    caller records the creation itself (a rotation).
    """
    if scope not in ApiKey.Scope.values:
        raise ValueError(f"unknown scope {scope!r}")
    if capped:
        caps.lock_tenant(tenant.pk)
        caps.check_count(
            usable_keys(tenant).count(),
            settings.TENANT_MAX_API_KEYS,
            _("usable API keys; revoke one first"),
            "TENANT_MAX_API_KEYS",
        )
    prefix, token = _new_token()
    key = ApiKey.objects.create(
        tenant=tenant,
        name=name,
        scope=scope,
        prefix=prefix,
        token_hash=hash_token(token),
        expires_at=expires_at,
        created_by=created_by,
    )
    if audited:
        audit.record(audit.Action.API_KEY_CREATED, target=key, changes=diff({}, snapshot(key)))
    return IssuedKey(key=key, token=token)


def usable_keys(tenant: Tenant) -> QuerySet[ApiKey]:
    """The tenant's keys that are neither revoked nor expired."""
    now = timezone.now()
    return ApiKey.objects.filter(tenant=tenant, revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


def revoke_api_key(key: ApiKey) -> ApiKey:
    """Revoke ``key`` at once; revoking twice keeps the first time."""
    now = timezone.now()
    if ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now):
        audit.record(audit.Action.API_KEY_REVOKED, target=key)
    forget_api_key(key)
    key.refresh_from_db(fields=["revoked_at"])
    return key


@transaction.atomic
def rotate_api_key(
    key: ApiKey, *, grace: timedelta = timedelta(0), created_by: AbstractBaseUser | None = None
) -> IssuedKey:
    """Issue a key like ``key`` and retire ``key``: now, or after ``grace`` so both overlap.

    The overlap lets a partner deploy the new token before the old one stops working.
    """
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    if not key.is_usable(timezone.now()):
        raise ValueError("a revoked or expired key cannot be rotated")
    issued = create_api_key(
        key.tenant,
        key.name,
        key.scope,
        expires_at=key.expires_at,
        created_by=created_by,
        capped=False,  # it replaces ``key``
        audited=False,
    )
    audit.record(
        audit.Action.API_KEY_ROTATED,
        target=key,
        details={"new_key_id": issued.key.pk, "new_prefix": issued.key.prefix, "grace": str(grace)},
    )
    if grace:
        retire_at = timezone.now() + grace
        if key.expires_at is None or key.expires_at > retire_at:
            key.expires_at = retire_at
            key.save(update_fields=["expires_at"])
            forget_api_key(key)
    else:
        revoke_api_key(key)
    return issued


class KeyExpiryRefused(ValueError):
    """The new expiry would revive a key or extend its life."""


def change_key_expiry(key: ApiKey, expires_at: datetime | None) -> ApiKey:
    """Bring ``key``'s expiry forward (or give it one); return the key as stored.

    An expired, revoked or rotated-out key stays dead, and no key lives longer than it was
    given: a longer-lived key is a new key (rotate). One conditional UPDATE, so a key that
    expires meanwhile is not revived either.
    """
    now = timezone.now()
    if expires_at is None and key.expires_at is not None:
        raise KeyExpiryRefused(_("A key's expiry cannot be removed; rotate it for a new key."))
    alive = Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    not_longer = Q(expires_at__isnull=True) | Q(expires_at__gte=expires_at) if expires_at else Q()
    changed = ApiKey.objects.filter(alive & not_longer, pk=key.pk).update(expires_at=expires_at)
    forget_api_key(key)
    if not changed:
        key.refresh_from_db(fields=["expires_at", "revoked_at"])
        if not key.is_usable(now):
            raise KeyExpiryRefused(
                _("An expired or revoked key cannot be revived; create a new one.")
            )
        raise KeyExpiryRefused(_("A key's expiry can only be brought forward; rotate it instead."))
    changes = one_change("expires_at", key.expires_at, expires_at)
    audit.record(audit.Action.API_KEY_EXPIRY, target=key, changes=changes)
    key.expires_at = expires_at
    return key


def find_api_key(token: str) -> ApiKey | None:
    """Return the usable key ``token`` belongs to, with its tenant, or ``None``.

    A key read from the database is kept in this process for ``KEY_CACHE_SECONDS``: a
    revocation or expiry change made here takes effect at once, one made by another process
    (another gunicorn worker, the admin on another machine) within that bound. The token is
    checked against the stored hash and the expiry against the clock on every request.
    """
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    key = _recent_key(parts[1])
    if key is None or not hmac.compare_digest(key.token_hash, hash_token(token)):
        return None
    if not key.is_usable(timezone.now()):
        return None
    return copy.copy(key)  # the request's own: what it notes on the key stays its own


def _recent_key(prefix: str) -> ApiKey | None:
    now = time.monotonic()
    kept = _recent.get(prefix)
    if kept is not None and now - kept[0] < KEY_CACHE_SECONDS:
        return kept[1]
    key = ApiKey.objects.select_related("tenant").filter(prefix=prefix).first()
    if key is None:
        _recent.pop(prefix, None)
        return None
    if len(_recent) >= KEY_CACHE_SIZE:
        _recent.clear()
    _recent[prefix] = (now, key)
    return key


def forget_api_key(key: ApiKey) -> None:
    """Drop ``key`` from this process's keys: its next request reads it again."""
    _recent.pop(key.prefix, None)


def note_key_used(key: ApiKey) -> None:
    """Record that ``key`` was used, at most once per ``LAST_USED_RESOLUTION``."""
    now = timezone.now()
    if key.last_used_at and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    # conditional, so concurrent requests of one key write once
    ApiKey.objects.filter(pk=key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
    key.last_used_at = now
    kept = _recent.get(key.prefix)
    if kept is not None:
        kept[1].last_used_at = now
