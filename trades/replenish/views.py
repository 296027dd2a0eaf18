"""``GET /api/v1/replenishment/``: the tenant's purchase suggestions, paged, filtered; and
``GET /api/v1/replenishment/csv/``: the same rows as one CSV, the SKUs that run out first
on top."""

from __future__ import annotations

import builtins
import csv
import io
from typing import Any

from django.db.models import F, Q, QuerySet
from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from trades.api import filters
from trades.api.openapi import Operation, Resource, list_operation
from trades.api.pagination import PageQuery
from trades.api.views import ERRORS, ReadOnlyTenantViewSet, TenantViewSet, _list_schema
from trades.replenish.models import Suggestion

FIELDS = [
    "id", "shop", "sku_id", "num_iid", "outer_id", "title", "on_hand", "reserved", "available",
    "forecast_7d", "cover_days", "demand", "band", "safety_stock", "days_of_cover",
    "runs_out_in_days", "suggested_qty", "computed_at",
]  # fmt: skip
EXAMPLE = {
    "id": 41, "shop": 7, "sku_id": "5012345678", "num_iid": 712345678901,
    "outer_id": "JKT-NAVY-L",
    "title": "羽绒服 藏青 L", "on_hand": 120, "reserved": 30, "available": 90,
    "forecast_7d": "84.0",
    "cover_days": 14, "demand": "171.5", "band": "29.4", "safety_stock": "37.8",
    "days_of_cover": "7.5", "runs_out_in_days": 7, "suggested_qty": 120,
    "computed_at": "2026-11-02T03:00:00+08:00",
}  # fmt: skip
RESOURCE = Resource(
    "Replenishment",
    _(
        "Purchase suggestions per shop and SKU, from stock on hand, presale reservations and the "
        "7-day sales forecast (docs/replenishment.md explains every number)."
    ),
    {
        "list": list_operation(
            _("purchase suggestions"),
            {"results": [EXAMPLE], "next_cursor": None, "has_more": False},
            _(
                " `shop`, `sku` (a `sku_id` or an `outer_id`), `runs_out_within` (days) and "
                "`to_order` (true: only SKUs with a quantity to order) filter them."
            ),
        ),
        "csv": Operation(
            _("Download purchase suggestions as CSV"),
            _(
                "Every suggestion the filters keep, one CSV row each, the SKUs that run out first "
                "on top (then the largest quantities to order)."
            ),
            response="sku_id,outer_id,…\r\n5012345678,JKT-NAVY-L,…\r\n",
        ),
    },
)


class SuggestionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Suggestion
        fields = FIELDS


class SuggestionFilters(serializers.Serializer):
    shop = filters._id(_("Only this shop's suggestions."))
    sku = filters._text(_("Only this SKU: its `sku_id` or its `outer_id`."), 64)
    runs_out_within = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=365,
        help_text=_("Only SKUs running out within so many days."),
    )
    to_order = serializers.BooleanField(
        required=False,
        help_text=_("true: only SKUs with a quantity to order; false: only those without."),
    )


class SuggestionQuery(SuggestionFilters, PageQuery):
    pass


def filtered(queryset: QuerySet, params: dict[str, Any]) -> QuerySet:
    if "shop" in params:
        queryset = queryset.filter(shop_id=params["shop"])
    if params.get("sku"):
        queryset = queryset.filter(Q(sku_id=params["sku"]) | Q(outer_id=params["sku"]))
    if "runs_out_within" in params:
        queryset = queryset.filter(runs_out_in_days__lte=params["runs_out_within"])
    if "to_order" in params:
        queryset = (
            queryset.filter(suggested_qty__gt=0)
            if params["to_order"]
            else queryset.filter(suggested_qty=0)
        )
    return queryset


@extend_schema_view(list=_list_schema(SuggestionSerializer, SuggestionQuery, "SuggestionPage"))
class ReplenishmentViewSet(TenantViewSet):
    """The tenant's purchase suggestions; a list only (and its CSV)."""

    openapi_resource = RESOURCE
    serializer_class = SuggestionSerializer
    query_class = SuggestionQuery
    ordering = ("id",)

    # methods of its own, so the schema decorator does not mark the shared ones
    def list(self, request: Request) -> Response:
        return ReadOnlyTenantViewSet.list(self, request)  # type: ignore[arg-type]

    def render(self, rows: builtins.list[Any]) -> builtins.list[dict[str, Any]]:
        return self.get_serializer(rows, many=True).data

    def tenant_queryset(self) -> QuerySet:
        queryset = Suggestion.objects.for_tenant(self.tenant)
        return filtered(queryset, filters.parse_query(self.request, self.query_class))

    @extend_schema(
        parameters=[SuggestionFilters],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR), **ERRORS},
    )
    @action(detail=False, url_path="csv")
    def csv(self, request: Request) -> HttpResponse:
        params = filters.parse_query(request, SuggestionFilters)
        rows = filtered(Suggestion.objects.for_tenant(self.tenant), params).order_by(
            F("runs_out_in_days").asc(nulls_last=True), "-suggested_qty", "id"
        )
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(FIELDS)
        writer.writerows(
            [getattr(row, name if name != "shop" else "shop_id") for name in FIELDS] for row in rows
        )
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="replenishment.csv"'
        return response
