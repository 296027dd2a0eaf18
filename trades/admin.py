"""Trades, refunds and reconcile reports in the console: read-only, scoped, fast on big tables.

The trade and refund tables hold millions of rows, so their lists never count them in full
(a bounded count, no facets), filter only on indexed columns with fixed choices (never a
DISTINCT over the table), search by exact id, and order by an index of the tenant.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from shops.admin import pre, pretty_json
from shops.console.paginator import BoundedCountAdminMixin
from shops.console.tenancy import ReadOnlyInline, ShopFilter, TenantScopedAdmin
from trades import exports
from trades.api.admin import ApiKeyAdmin  # noqa: F401  (registers API keys)
from trades.api.export_views import ExportQuery
from trades.models import REFUND_STATUSES, TRADE_STATUSES, ReconcileReport, Refund, Trade, TradeLine
from trades.tmc.admin import TmcShopAdmin  # noqa: F401  (registers the TMC views)
from trades.webhooks.admin import WebhookDeliveryAdmin  # noqa: F401  (registers webhooks)


def fixed_choices_filter(field: str, choices: list[str], title: str):
    """An exact-match filter with known choices: no SELECT DISTINCT over a big table."""

    class Filter(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request, model_admin):
            return [(value, value) for value in choices]

        def queryset(self, request, queryset):
            return queryset.filter(**{field: self.value()}) if self.value() else queryset

    Filter.title = title
    return Filter


def exact_number_search(queryset: QuerySet, term: str, fields: list[str]) -> QuerySet:
    """Exact lookups by id (each field indexed); anything else finds nothing."""
    term = term.strip()
    if not term:
        return queryset
    if not term.isdigit() or len(term) > 19:
        return queryset.none()
    match = Q()
    for name in fields:
        match |= Q(**{name: int(term)})
    return queryset.filter(match)


class TradeLineInline(ReadOnlyInline):
    model = TradeLine
    verbose_name_plural = "sub-orders"
    fields = readonly_fields = (
        "oid",
        "title",
        "sku_id",
        "num",
        "price",
        "payment",
        "status",
        "refund_status",
    )


class BigTableAdmin(BoundedCountAdminMixin, TenantScopedAdmin):
    read_only = True
    exact_search_fields: list[str] = []

    def get_ordering(self, request: HttpRequest):
        # The time orderings use indexes that start with the tenant. An operator's list of
        # every tenant has no such index, so it goes newest-inserted first by primary key.
        if request.user.is_superuser and not request.GET.get("tenant"):
            return ("-id",)
        return super().get_ordering(request)

    def get_search_results(self, request, queryset, search_term):
        return exact_number_search(queryset, search_term, self.exact_search_fields), False

    # --- export: the rows the user may see, streamed like the API's exports/ ----------------
    export_what = ""

    def get_urls(self):
        if not self.export_what:
            return super().get_urls()
        name = f"{self.opts.app_label}_{self.opts.model_name}_export"
        view = self.admin_site.admin_view(self.export_view)
        return [path("export/", view, name=name), *super().get_urls()]

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """``?format=ndjson|csv&modified_after=…&modified_before=…&shop=…&tenant=…&cursor=…``"""
        if not self.has_view_permission(request):
            raise PermissionDenied
        query = ExportQuery(data={k: v for k, v in request.GET.items() if k != "tenant"})
        if not query.is_valid():
            return JsonResponse({"errors": query.errors}, status=400)
        queryset = self.get_queryset(request)  # scoped to the user's tenants
        if request.GET.get("tenant", "").isdigit():
            queryset = queryset.filter(tenant_id=int(request.GET["tenant"]))
        try:
            return exports.response(self.export_what, queryset, query.validated_data)
        except exports.BadExportCursor as error:
            return JsonResponse({"errors": {"cursor": [str(error)]}}, status=400)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra = dict(extra_context or {})
        if self.export_what:
            name = f"admin:{self.opts.app_label}_{self.opts.model_name}_export"
            extra["export_url"] = reverse(name)
        return super().changelist_view(request, extra)


@admin.register(Trade)
class TradeAdmin(BigTableAdmin):
    export_what = "trades"
    change_list_template = "admin/trades/export_change_list.html"
    list_display = ("tid", "shop", "status", "type", "created", "modified", "payment")
    list_filter = (
        ShopFilter,
        fixed_choices_filter("status", TRADE_STATUSES, "status"),
        ("created", admin.DateFieldListFilter),
        ("modified", admin.DateFieldListFilter),
    )
    list_select_related = ("shop",)
    # the tenant's (tenant, -created, -id) index serves the default list
    ordering = ("-created", "-id")
    search_fields = ("tid",)
    search_help_text = "Exact trade id (tid)."
    exact_search_fields = ["tid"]
    inlines = [TradeLineInline]
    exclude = ("payload",)
    readonly_fields = ("refunds", "payload_readable")

    @admin.display(description="refunds")
    def refunds(self, trade: Trade) -> str:
        # refund_shop_tid_idx
        rows = Refund.objects.filter(shop_id=trade.shop_id, tid=trade.tid).order_by("created")
        if not rows:
            return "none"
        return format_html(
            "<table><tr><th>refund id</th><th>oid</th><th>status</th><th>fee</th>"
            "<th>modified</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((r.refund_id, r.oid or "—", r.status, r.refund_fee, r.modified) for r in rows),
            ),
        )

    @admin.display(description="payload (as last seen on the platform)")
    def payload_readable(self, trade: Trade) -> str:
        return pretty_json(trade.payload)


@admin.register(Refund)
class RefundAdmin(BigTableAdmin):
    export_what = "refunds"
    change_list_template = "admin/trades/export_change_list.html"
    list_display = ("refund_id", "tid", "shop", "status", "refund_fee", "modified")
    list_filter = (
        ShopFilter,
        fixed_choices_filter("status", REFUND_STATUSES, "status"),
        ("modified", admin.DateFieldListFilter),
    )
    list_select_related = ("shop",)
    ordering = ("-modified", "-id")  # refund_tenant_modified_idx
    search_fields = ("refund_id",)
    search_help_text = "Exact refund id or trade id (tid)."
    exact_search_fields = ["refund_id", "tid"]
    exclude = ("payload",)
    readonly_fields = ("payload_readable",)

    @admin.display(description="payload")
    def payload_readable(self, refund: Refund) -> str:
        return pretty_json(refund.payload)


@admin.register(ReconcileReport)
class ReconcileReportAdmin(BigTableAdmin):
    list_display = (
        "day",
        "shop",
        "platform_count",
        "local_count",
        "missing_found",
        "stale_fixed",
        "refunds_platform_count",
        "refunds_local_count",
        "refunds_missing_found",
        "refunds_stale_fixed",
        "unresolved",
        "api_calls",
        "created_at",
    )
    list_filter = (ShopFilter, ("day", admin.DateFieldListFilter))
    list_select_related = ("shop",)
    ordering = ("-created_at",)  # reconcile_tenant_recent_idx
    exclude = ("details",)
    readonly_fields = ("details_readable",)

    @admin.display(
        description="what was found (tids and refund ids missing or stale, unresolved records)"
    )
    def details_readable(self, report: ReconcileReport) -> str:
        return pretty_json(report.details) if report.details else pre("")
