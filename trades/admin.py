from django.contrib import admin

from trades.api.admin import ApiKeyAdmin  # noqa: F401  (registers API keys)
from trades.models import Refund, Trade, TradeLine
from trades.tmc_admin import TmcShopAdmin  # noqa: F401  (registers the TMC views)


class TradeLineInline(admin.TabularInline):
    model = TradeLine
    extra = 0
    can_delete = False


@admin.register(Trade)
class TradeAdmin(admin.ModelAdmin):
    list_display = ("tid", "shop", "status", "type", "created", "modified", "payment")
    list_filter = ("status", "type")
    list_select_related = ("shop",)
    raw_id_fields = ("shop", "tenant")
    show_full_result_count = False
    inlines = [TradeLineInline]


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = ("refund_id", "tid", "shop", "status", "refund_fee", "modified")
    list_filter = ("status",)
    list_select_related = ("shop",)
    raw_id_fields = ("shop", "tenant")
    show_full_result_count = False
