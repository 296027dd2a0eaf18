"""Changes made in the console, with their field diffs (Django's LogEntry keeps only the
names of the changed fields, and the user, never the values)."""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.http import HttpRequest

from shops import audit
from shops.audit.diff import diff, snapshot

_BEFORE = "_audit_before"


class AuditedAdminMixin:
    """For a ModelAdmin: each add, change and delete made through it is an audit entry.

    ``audit_deleted`` names the action a deletion records (a shop's is a disconnection).
    """

    audit_deleted: str = audit.Action.ADMIN_DELETED
    # what this admin records itself; models whose actions record (keys, endpoints) say less
    audited: tuple[str, ...] = ("added", "changed", "deleted")

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Model | None:
        obj = super().get_object(request, object_id, from_field)  # type: ignore[misc]
        if obj is not None:
            setattr(obj, _BEFORE, snapshot(obj))
        return obj

    def log_addition(self, request: HttpRequest, obj: Model, message: Any) -> Any:  # noqa: ANN401  (Django's)
        if "added" in self.audited:
            changes = diff({}, snapshot(obj))
            audit.record(audit.Action.ADMIN_ADDED, target=obj, changes=changes)
        return super().log_addition(request, obj, message)  # type: ignore[misc]

    def log_change(self, request: HttpRequest, obj: Model, message: Any) -> Any:  # noqa: ANN401  (Django's)
        changes = diff(getattr(obj, _BEFORE, {}), snapshot(obj))
        if changes and "changed" in self.audited:
            audit.record(audit.Action.ADMIN_CHANGED, target=obj, changes=changes)
        return super().log_change(request, obj, message)  # type: ignore[misc]

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:  # noqa: ANN401  (Django's)
        for obj in queryset if "deleted" in self.audited else ():
            audit.record(self.audit_deleted, target=obj, changes=diff(snapshot(obj), {}))
        return super().log_deletions(request, queryset)  # type: ignore[misc]
