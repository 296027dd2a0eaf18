"""Presale reservations in the console: the units per shop and SKU, with the totals."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, Sum
from django.http import HttpRequest

from shops.console.tenancy import ShopFilter, TenantScopedAdmin
from trades.presale.models import PresaleReservation


@admin.register(PresaleReservation)
class PresaleReservationAdmin(TenantScopedAdmin):
    read_only = True
    change_list_template = "admin/trades/presalereservation/change_list.html"
    list_display = ("shop", "stage", "sku_id", "outer_sku_id", "num_iid", "units", "trades")
    list_filter = (ShopFilter, "stage")
    list_select_related = ("shop",)
    ordering = ("shop", "-units", "id")
    search_fields = ("=sku_id", "=outer_sku_id")
    show_full_result_count = False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None) or {}
        changelist = context.get("cl")
        if changelist is not None:  # not a redirect: the totals of what the filters kept
            context["totals"] = changelist.queryset.aggregate(
                units=Sum("units"), trades=Sum("trades"), rows=Count("id")
            )
        return response
