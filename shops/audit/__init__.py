"""The audit log (docs/audit-retention.md). Everything that records goes through
:func:`record`; who acts comes from :mod:`shops.audit.actor`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

from shops.audit.actor import Actor, acting, current_actor
from shops.audit.diff import masked
from shops.audit.models import Action, AuditEntry

if TYPE_CHECKING:
    from shops.models import Tenant

__all__ = ["Action", "Actor", "AuditEntry", "acting", "current_actor", "record"]


def record(
    action: str,
    *,
    target: models.Model | None = None,
    tenant: Tenant | int | None = None,
    changes: dict[str, list[Any]] | None = None,
    details: dict[str, Any] | None = None,
    actor: Actor | None = None,
) -> AuditEntry:
    """Append one entry: ``action`` (an :class:`Action`) done to ``target`` by ``actor`` (the
    current one when not given). ``tenant`` (a Tenant or its id) defaults to the target's.
    Secret-looking keys of ``details`` are masked. Runs in the caller's transaction, so an
    action rolled back leaves no entry. Returns the entry."""
    if action not in Action.values:
        raise ValueError(f"unknown audit action {action!r}")
    who = actor or current_actor()
    return AuditEntry.objects.create(
        tenant_id=_tenant_id(tenant, target),
        actor_kind=who.kind,
        actor_user_id=who.user_id,
        actor_key_id=who.key_id,
        actor=who.label[:200],
        ip=who.ip,
        user_agent=who.user_agent,
        action=action,
        **_target(target),
        changes=changes or {},
        details=masked(details or {}),
    )


def _target(obj: models.Model | None) -> dict[str, str]:
    if obj is None:
        return {}
    return {
        "object_type": obj._meta.label_lower,
        "object_id": str(obj.pk or ""),
        "object_repr": str(obj)[:200],
    }


def _tenant_id(tenant: Tenant | int | None, target: models.Model | None) -> int | None:
    if tenant is not None:
        return tenant if isinstance(tenant, int) else tenant.pk
    if target is None:
        return None
    if target._meta.label_lower == "shops.tenant":
        return target.pk
    if hasattr(target, "tenant_id"):
        return target.tenant_id
    shop = getattr(target, "shop", None)
    return getattr(shop, "tenant_id", None)
