"""Replenishment in the console: the purchase-suggestion report (sortable, the SKUs that run
out first on top) and each shop's settings, whose saving or action recomputes now."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from shops.console.tenancy import ShopFilter, TenantScopedAdmin
from trades.replenish.models import ReplenishSettings, Suggestion
from trades.replenish.suggest import recompute_suggestions


@admin.register(Suggestion)
class SuggestionAdmin(TenantScopedAdmin):
    read_only = True
    list_display = (
        "runs_out_in_days", "sku_id", "outer_id", "title", "shop", "on_hand", "reserved",
        "available", "forecast_7d", "demand", "safety_stock", "days_of_cover", "suggested_qty",
    )  # fmt: skip
    list_display_links = ("sku_id",)
    list_filter = (ShopFilter,)
    list_select_related = ("shop",)
    search_fields = ("=sku_id", "=outer_id", "title")
    show_full_result_count = False

    def get_ordering(self, request: HttpRequest) -> list:
        # "runs out in N days" first; SKUs that do not run out within the horizon last
        return [F("runs_out_in_days").asc(nulls_last=True), "-suggested_qty", "id"]


@admin.register(ReplenishSettings)
class ReplenishSettingsAdmin(TenantScopedAdmin):
    list_display = ("shop", "lead_time_days", "review_days", "service_level")
    fields = ("shop", "lead_time_days", "review_days", "service_level", "promotion_days")
    readonly_fields = ("shop",)
    actions = ("recompute",)
    deleted_with_parent = True  # goes with its shop; never deleted on its own

    def has_add_permission(self, request: HttpRequest, *args: object) -> bool:
        return False  # every shop gets its settings with its first recompute

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # they go with their shop

    def save_model(self, request: HttpRequest, obj: ReplenishSettings, form, change) -> None:
        super().save_model(request, obj, form, change)
        count = recompute_suggestions(obj.shop)
        self.message_user(request, _("Suggestions recomputed: %(n)d SKUs.") % {"n": count})

    @admin.action(description=_("Recompute the purchase suggestions now"))
    def recompute(self, request: HttpRequest, queryset: QuerySet) -> None:
        total = sum(recompute_suggestions(settings.shop) for settings in queryset)
        self.message_user(
            request, _("Suggestions recomputed: %(n)d SKUs.") % {"n": total}, messages.SUCCESS
        )
