"""``GET exports/trades`` and ``GET exports/refunds``: a tenant's rows streamed as NDJSON or
CSV (``trades.exports``), resumable by cursor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import Http404, StreamingHttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request

from shops.models import Shop
from trades import exports
from trades.api import filters, openapi
from trades.api.views import ERRORS, TenantViewSet


class ExportQuery(filters.RangeCheck, serializers.Serializer):
    ranges = ("modified",)

    format = filters.EnumField(
        choices=list(exports.MEDIA),
        required=False,
        default="ndjson",
        help_text=_(
            "ndjson, csv, or parquet (with the server's optional parquet extra; 406 without it)."
        ),
    )
    shop = filters._id(_("Only rows of this shop."))
    modified_after = filters._since(_("Modified at or after (ISO 8601)."))
    modified_before = filters._until(_("Modified before (ISO 8601)."))
    cursor = serializers.CharField(
        required=False, max_length=500, help_text=_("The `cursor` of the last row received.")
    )


class QueryFormat(DefaultContentNegotiation):
    """``format`` here names the export's format, not a DRF renderer: errors stay JSON."""

    def select_renderer(
        self, request: Request, renderers: list, format_suffix: str | None = None
    ) -> tuple:
        return renderers[0], renderers[0].media_type


class AuditExportQuery(ExportQuery):
    shop = None  # entries belong to the tenant, not to a shop


# the ndjson answer of each export
_NDJSON = {
    "trades": _(
        "The tenant's trades, one JSON object a line, each with its `cursor`; the last line is "
        '`{"end": true, "rows": n, "cursor": …}`.'
    ),
    "refunds": _(
        "The tenant's refunds, one JSON object a line, each with its `cursor`; the last line "
        'is `{"end": true, "rows": n, "cursor": …}`.'
    ),
    "audit": _(
        "The tenant's audit entries, one JSON object a line, each with its `cursor`; the last "
        'line is `{"end": true, "rows": n, "cursor": …}`.'
    ),
}


def _schema(what: str, query: type[serializers.Serializer] = ExportQuery) -> Callable:
    return extend_schema(
        operation_id=f"exports_{what}",
        parameters=[query],
        responses={
            (200, "application/x-ndjson"): OpenApiResponse(
                OpenApiTypes.STR,
                description=_NDJSON[what],
            ),
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description=_("A header, a row each, then `#end rows=n cursor=…`."),
            ),
            (200, "application/vnd.apache.parquet"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description=_(
                    "One Parquet file (zstd), sent a row group of 10,000 rows at a "
                    "time; the same columns, each row with its `cursor`, a trade's `lines` a list "
                    "of structs. A cut download has no footer and does not open."
                ),
            ),
            (406, "application/json"): OpenApiResponse(
                description=_("format=parquet on a server without the optional parquet extra.")
            ),
            **ERRORS,
        },
    )


class _ExportViewSet(TenantViewSet):
    content_negotiation_class = QueryFormat
    what = ""
    query_class: type[serializers.Serializer] = ExportQuery

    def list(self, request: Request, **kwargs: Any) -> StreamingHttpResponse:
        params = filters.parse_query(request, self.query_class)
        shops = Shop.objects.for_tenant(self.tenant)
        if "shop" in params and not shops.filter(pk=params["shop"]).exists():
            raise Http404
        if "cursor" in params:
            try:
                exports.decode_cursor(params["cursor"])
            except exports.BadExportCursor as error:
                raise serializers.ValidationError({"cursor": [str(error)]}) from None
        queryset = exports.KINDS[self.what].model.objects.filter(tenant=self.tenant)
        try:
            return exports.response(self.what, queryset, params)
        except exports.FormatUnavailable as error:
            raise exceptions.NotAcceptable(str(error)) from None


class TradeExportViewSet(_ExportViewSet):
    """A tenant's trades with their lines, oldest change first."""

    what = "trades"
    openapi_resource = openapi.TRADE_EXPORTS

    @_schema("trades")
    def list(self, request: Request, **kwargs: Any) -> StreamingHttpResponse:
        return super().list(request, **kwargs)


class RefundExportViewSet(_ExportViewSet):
    """A tenant's refunds, oldest change first."""

    what = "refunds"
    openapi_resource = openapi.REFUND_EXPORTS

    @_schema("refunds")
    def list(self, request: Request, **kwargs: Any) -> StreamingHttpResponse:
        return super().list(request, **kwargs)
