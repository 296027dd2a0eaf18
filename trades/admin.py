"""Trades, refunds and reconcile reports in the console: read-only, scoped, fast on big tables.

The trade and refund tables hold millions of rows, so their lists never count them in full
(a bounded count, no facets), filter only on indexed columns with fixed choices (never a
DISTINCT over the table), search by exact id, and order by an index of the tenant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from shops.audit.models import AuditEntry
from shops.console.daterange import DateRangeFilter
from shops.console.pages import pre, pretty_json
from shops.console.paginator import BoundedCountAdminMixin
from shops.console.tenancy import OWNER_ROLES, ShopFilter, TenantScopedAdmin
from shops.console.times import in_zone, short
from trades import exports
from trades.api.admin import ApiKeyAdmin  # noqa: F401  (registers API keys)
from trades.api.export_views import AuditExportQuery, ExportQuery
from trades.feed.models import ChangeEvent
from trades.jdp.admin import JdpShopAdmin  # noqa: F401  (registers the JDP views)
from trades.logistics.admin import StalledParcelAdmin  # noqa: F401  (registers it)
from trades.models import REFUND_STATUSES, TRADE_STATUSES, ReconcileReport, Refund, Trade
from trades.presale.admin import PresaleReservationAdmin  # noqa: F401  (registers it)
from trades.retention.models import RetentionRun
from trades.statuses import status_choices, status_shown

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise
from trades.tmc.admin import TmcShopAdmin  # noqa: F401  (registers the TMC views)
from trades.webhooks.admin import WebhookDeliveryAdmin  # noqa: F401  (registers webhooks)


def fixed_choices_filter(field: str, choices: list[str], title: StrOrPromise):
    """An exact-match filter with known choices: no SELECT DISTINCT over a big table."""

    class Filter(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request, model_admin):
            return status_choices(choices)

        def queryset(self, request, queryset):
            return queryset.filter(**{field: self.value()}) if self.value() else queryset

    Filter.title = title
    return Filter


MAX_BIGINT = 2**63 - 1
TID_PREFIX_DIGITS = 5  # the fewest digits searched as the start of a trade id
MOBILE_DIGITS = 4  # the most digits searched as the end of the receiver's mobile


def tid_prefix(digits: str) -> Q:
    """Trade ids that start with ``digits``: one range of ``trade_tid_idx`` per possible
    length (ids have up to 19 digits), so a partial id is found without scanning."""
    start = int(digits)
    match = Q()
    for extra in range(0, 20 - len(digits)):
        low, high = start * 10**extra, (start + 1) * 10**extra
        if low > MAX_BIGINT:
            break
        match |= Q(tid__gte=low, tid__lt=min(high, MAX_BIGINT))
    return match


def trade_search(queryset: QuerySet, term: str) -> QuerySet:
    """What support types to find a trade.

    Digits: 5 or more are the start of a trade id (indexed); up to 4 are the last digits of
    the receiver's mobile. Text: part of the buyer's nick, the buyer's whole open uid, or part
    of the receiver's name. Receiver name and mobile are searched in the trade as the platform
    sent it (``payload``): it masks them (``王*``, ``138********``), and masked characters
    match nothing. Text and mobile searches read the listed trades of the tenant (narrow them
    by shop, status or time); id searches use the index.
    """
    term = term.strip()
    if not term:
        return queryset
    if term.isdigit():
        if len(term) > 19:
            return queryset.none()
        if len(term) >= TID_PREFIX_DIGITS:
            return queryset.filter(tid_prefix(term))
        if len(term) <= MOBILE_DIGITS:
            return queryset.filter(payload__receiver_mobile__endswith=term)
        return queryset.none()
    return queryset.filter(
        Q(buyer_nick__icontains=term)
        | Q(buyer_open_uid=term)
        | Q(payload__receiver_name__icontains=term)
    )


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


HISTORY_LIMIT = 200  # versions of one trade shown


def cell(value: object) -> object:
    """A table cell: ``—`` for nothing."""
    return "—" if value is None or value == "" else value


def table(headers: tuple[StrOrPromise, ...], rows) -> str:
    """A small HTML table: escaped headers and cells."""
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((cell(c),) for c in row)),) for row in rows),
    )
    return format_html("<table><tr>{}</tr>{}</table>", head, body)


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
    export_query: type = ExportQuery

    def get_urls(self):
        if not self.export_what:
            return super().get_urls()
        name = f"{self.opts.app_label}_{self.opts.model_name}_export"
        view = self.admin_site.admin_view(self.export_view)
        return [path("export/", view, name=name), *super().get_urls()]

    def export_view(self, request: HttpRequest) -> HttpResponseBase:
        """``?format=ndjson|csv&modified_after=…&modified_before=…&shop=…&tenant=…&cursor=…``"""
        if not self.has_view_permission(request):
            raise PermissionDenied
        query = self.export_query(data={k: v for k, v in request.GET.items() if k != "tenant"})
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
    list_display = (
        "tid",
        "shop_nick",
        "status_label",
        "buyer_nick",
        "created_at",
        "modified_at",
        "payment",
    )
    list_filter = (
        ShopFilter,
        fixed_choices_filter("status", TRADE_STATUSES, _("status")),
        ("created", DateRangeFilter),
        ("modified", DateRangeFilter),
    )
    list_select_related = ("shop",)
    # the tenant's (tenant, -created, -id) index serves the default list
    ordering = ("-created", "-id")
    search_fields = ("tid",)
    search_help_text = _(
        "A trade id or its first 5+ digits; a buyer nick (part) or open uid; a receiver name "
        "(part) or the last 1-4 digits of the receiver's mobile. Receiver fields are searched "
        "as the platform sent them, masked (王*, 138********): masked characters never match."
    )

    def get_search_results(self, request, queryset, search_term):
        return trade_search(queryset, search_term), False

    @admin.display(description=_("shop"))
    def shop_nick(self, trade: Trade) -> str:
        return trade.shop.seller_nick

    @admin.display(description=_("status"), ordering="status")
    def status_label(self, trade: Trade) -> str:
        return status_shown(trade.status)

    @admin.display(description=_("presale stage"))
    def step_label(self, trade: Trade) -> str:
        return status_shown(trade.step_trade_status)

    @admin.display(description=in_zone(_("created")), ordering="created")
    def created_at(self, trade: Trade) -> str:
        return short(trade.created)

    @admin.display(description=in_zone(_("modified")), ordering="modified")
    def modified_at(self, trade: Trade) -> str:
        return short(trade.modified)

    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("tid", "shop", "status_label", "type", "step_label"),
                    ("buyer_nick", "buyer_open_uid"),
                    ("created", "modified", "pay_time", "consign_time", "end_time"),
                    ("payment", "total_fee", "post_fee"),
                    ("receiver_state", "receiver_city", "receiver_district"),
                )
            },
        ),
        (_("Sub-orders"), {"fields": ("sub_orders",)}),
        (_("Refunds"), {"fields": ("refunds",)}),
        (_("Status history (from the change feed)"), {"fields": ("status_history",)}),
        (_("Raw"), {"fields": ("payload_readable",), "classes": ("collapse",)}),
    )
    readonly_fields = (
        "status_label",
        "step_label",
        "sub_orders",
        "refunds",
        "status_history",
        "payload_readable",
    )

    @admin.display(description=_("sub-orders"))
    def sub_orders(self, trade: Trade) -> StrOrPromise:
        rows = trade.lines.order_by("oid")
        if not rows:
            return _("none")
        return table(
            (
                _("oid"),
                _("title"),
                _("SKU"),
                _("quantity"),
                _("price"),
                _("payment"),
                _("status"),
                _("refund status"),
            ),
            (
                (r.oid, r.title, r.sku_id or "—", r.num, r.price, r.payment, status_shown(r.status))
                + (status_shown(r.refund_status) or "—",)
                for r in rows
            ),
        )

    @admin.display(description=_("status history"))
    def status_history(self, trade: Trade) -> StrOrPromise:
        """Every version the feed recorded, oldest first (changeevent_shop_key_idx)."""
        rows = ChangeEvent.objects.filter(
            shop_id=trade.shop_id, entity=ChangeEvent.Entity.TRADE, key=trade.tid
        ).order_by("id")[:HISTORY_LIMIT]
        if not rows:
            return _("none recorded")
        return table(
            (
                in_zone(_("platform modified")),
                _("from"),
                _("to"),
                in_zone(_("recorded")),
                _("change id"),
            ),
            (
                (
                    short(e.modified),
                    status_shown(e.previous_status) if e.previous_status else _("(new)"),
                )
                + (status_shown(e.status),)
                + (short(e.created_at), e.pk)
                for e in rows
            ),
        )

    @admin.display(description=_("refunds"))
    def refunds(self, trade: Trade) -> StrOrPromise:
        # refund_shop_tid_idx
        rows = Refund.objects.filter(shop_id=trade.shop_id, tid=trade.tid).order_by("created")
        if not rows:
            return _("none")
        return table(
            (_("refund id"), _("oid"), _("status"), _("fee"), in_zone(_("modified"))),
            (
                (r.refund_id, r.oid or "—", status_shown(r.status), r.refund_fee, short(r.modified))
                for r in rows
            ),
        )

    @admin.display(description=_("payload (as last seen on the platform)"))
    def payload_readable(self, trade: Trade) -> str:
        return pretty_json(trade.payload)


@admin.register(Refund)
class RefundAdmin(BigTableAdmin):
    export_what = "refunds"
    change_list_template = "admin/trades/export_change_list.html"
    list_display = ("refund_id", "tid", "shop", "status_label", "refund_fee", "modified")
    list_filter = (
        ShopFilter,
        fixed_choices_filter("status", REFUND_STATUSES, _("status")),
        ("modified", admin.DateFieldListFilter),
    )
    list_select_related = ("shop",)
    ordering = ("-modified", "-id")  # refund_tenant_modified_idx
    search_fields = ("refund_id",)
    search_help_text = _("Exact refund id or trade id (tid).")
    exact_search_fields = ["refund_id", "tid"]
    exclude = ("payload",)
    readonly_fields = ("status_label", "payload_readable")

    @admin.display(description=_("status"), ordering="status")
    def status_label(self, refund: Refund) -> str:
        return status_shown(refund.status)

    @admin.display(description=_("payload"))
    def payload_readable(self, refund: Refund) -> str:
        return pretty_json(refund.payload)


@admin.register(ReconcileReport)
class ReconcileReportAdmin(BigTableAdmin):
    list_display = (
        "day",
        "shop_nick",
        "trades_counted",
        "trades_fixed",
        "refunds_counted",
        "refunds_fixed",
        "unresolved",
        "api_calls",
        "created",
    )
    list_filter = (ShopFilter, ("day", admin.DateFieldListFilter))
    list_select_related = ("shop",)
    ordering = ("-created_at",)  # reconcile_tenant_recent_idx
    exclude = ("details",)
    readonly_fields = ("details_readable",)

    @admin.display(description=_("shop"))
    def shop_nick(self, report: ReconcileReport) -> str:
        return report.shop.seller_nick

    @admin.display(description=_("trades TOP/ours"))
    def trades_counted(self, report: ReconcileReport) -> str:
        return f"{report.platform_count}/{report.local_count}"

    @admin.display(description=_("missing/stale"))
    def trades_fixed(self, report: ReconcileReport) -> str:
        return f"{report.missing_found}/{report.stale_fixed}"

    @admin.display(description=_("refunds TOP/ours"))
    def refunds_counted(self, report: ReconcileReport) -> str:
        return f"{report.refunds_platform_count}/{report.refunds_local_count}"

    @admin.display(description=_("missing/stale"))
    def refunds_fixed(self, report: ReconcileReport) -> str:
        return f"{report.refunds_missing_found}/{report.refunds_stale_fixed}"

    @admin.display(description=in_zone(_("made")), ordering="created_at")
    def created(self, report: ReconcileReport) -> str:
        return short(report.created_at)

    @admin.display(
        description=_("what was found (tids and refund ids missing or stale, unresolved records)")
    )
    def details_readable(self, report: ReconcileReport) -> str:
        return pretty_json(report.details) if report.details else pre("")


@admin.register(AuditEntry)
class AuditEntryAdmin(BigTableAdmin):
    """The audit log: a tenant's owners see their tenant's, operators every entry (those of
    no tenant too: TOP apps). Nobody changes or deletes an entry (the database refuses)."""

    view_roles = OWNER_ROLES
    change_roles = frozenset()
    export_what = "audit"
    export_query = AuditExportQuery
    change_list_template = "admin/trades/export_change_list.html"
    list_display = ("when", "actor", "actor_kind", "ip", "action", "object_type", "object_repr")
    list_filter = ("action", "actor_kind", ("at", DateRangeFilter))
    ordering = ("-at", "-id")
    search_fields = ("actor",)
    search_help_text = _("A user name or an API key's name or prefix (exact).")
    readonly_fields = ("when", "changes_shown", "details_shown")
    exclude = ("changes", "details", "at")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(actor=term) | Q(actor__startswith=f"{term} (")), False

    @admin.display(description=in_zone("at"), ordering="at")
    def when(self, entry: AuditEntry) -> str:
        return short(entry.at)

    @admin.display(description=_("changes"))
    def changes_shown(self, entry: AuditEntry) -> str:
        return pretty_json(entry.changes)

    @admin.display(description=_("details"))
    def details_shown(self, entry: AuditEntry) -> str:
        return pretty_json(entry.details)


@admin.register(RetentionRun)
class RetentionRunAdmin(admin.ModelAdmin):
    """Operators only (no tenant owns a run): what each retention run removed."""

    list_display = ("started_at", "finished_at", "outcome", "removed")
    list_filter = ("outcome",)
    ordering = ("-started_at",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
