"""``GET audit/`` and ``GET exports/audit/``: the audit log of the key's tenant, for
read_write keys (the tenant's owners' view of who did what; docs/audit-retention.md)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request

from shops.audit.models import Action, ActorKind, AuditEntry
from trades.api import filters, openapi
from trades.api.auth import HasWriteKey
from trades.api.export_views import AuditExportQuery, _ExportViewSet, _schema
from trades.api.views import ReadOnlyTenantViewSet, _list_schema, _retrieve_schema


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "at",
            "actor_kind",
            "actor",
            "actor_user",
            "actor_key_id",
            "ip",
            "user_agent",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "changes",
            "details",
        ]


class AuditQuery(filters.RangeCheck, filters.PageQuery):
    ranges = ("at",)

    action = filters.enum(Action.values, _("Only entries of this action."))
    actor_kind = filters.enum(ActorKind.values, _("Only entries of this kind of actor."))
    at_after = filters._since(_("Done at or after (ISO 8601)."))
    at_before = filters._until(_("Done before (ISO 8601)."))


@extend_schema_view(
    list=_list_schema(AuditEntrySerializer, AuditQuery, "AuditPage"),
    retrieve=_retrieve_schema(AuditEntrySerializer, "id", _("The entry's id.")),
)
class AuditViewSet(ReadOnlyTenantViewSet):
    """The tenant's audit log, newest first."""

    openapi_resource = openapi.AUDIT
    serializer_class = AuditEntrySerializer
    query_class = AuditQuery
    ordering = ("-at", "-id")
    # who did what is the owners' business, like the keys themselves
    permission_classes = [HasWriteKey]

    def tenant_queryset(self) -> QuerySet:
        return AuditEntry.objects.filter(tenant=self.tenant)


class AuditExportViewSet(_ExportViewSet):
    """The tenant's audit log, oldest first; ``modified_after`` / ``modified_before`` are on
    the entries' ``at``."""

    what = "audit"
    openapi_resource = openapi.AUDIT_EXPORTS
    permission_classes = [HasWriteKey]
    query_class = AuditExportQuery

    @_schema("audit", AuditExportQuery)
    def list(self, request: Request, **kwargs: Any) -> StreamingHttpResponse:
        return super().list(request, **kwargs)
