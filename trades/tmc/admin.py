"""The TMC consumers in the console: per-shop subscription and freshness, counters by app."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from shops.console.tenancy import TenantScopedAdmin
from trades.tmc.models import TmcShop, TmcStat


class ReadOnly(admin.ModelAdmin):
    """Written by the consumers only; the console shows them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(TmcShop)
class TmcShopAdmin(TenantScopedAdmin):
    """Each tenant sees its own shops' subscriptions; written by the consumers only."""

    tenant_field = "shop__tenant"
    read_only = True
    list_display = (
        "shop",
        "permitted_at",
        "last_message_at",
        "last_change_modified",
        "freshness_seconds",
    )
    list_select_related = ("shop",)
    raw_id_fields = ("shop",)
    search_fields = ("shop__seller_nick",)
    show_full_result_count = False


@admin.register(TmcStat)
class TmcStatAdmin(ReadOnly):
    """Per app, so for operators only (no tenant owns an app)."""

    list_display = ("app_key", "name", "value")
    list_filter = ("app_key",)
    ordering = ("app_key", "name")
