from django.contrib import admin

from shops.models import Checkpoint, Membership, Shop, SyncRun, Tenant, TopApp


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "tenant", "role")
    list_filter = ("role", "tenant")
    list_select_related = ("user", "tenant")
    raw_id_fields = ("user",)


@admin.register(TopApp)
class TopAppAdmin(admin.ModelAdmin):
    list_display = ("name", "app_key", "sign_method", "calls_per_minute", "gateway_url")
    exclude = ("app_secret",)


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = ("seller_nick", "tenant", "platform", "status", "degraded", "interval_minutes")
    list_filter = ("status", "platform", "degraded", "tenant")
    list_select_related = ("tenant", "app")
    search_fields = ("seller_nick",)
    exclude = ("session_key", "refresh_token")


@admin.register(Checkpoint)
class CheckpointAdmin(admin.ModelAdmin):
    list_display = ("shop", "stream", "cursor", "last_success_at", "consecutive_failures")
    list_filter = ("stream",)
    list_select_related = ("shop",)
    raw_id_fields = ("shop",)


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = (
        "shop",
        "kind",
        "stream",
        "outcome",
        "started_at",
        "api_calls",
        "trades_written",
    )
    list_filter = ("outcome", "kind", "stream")
    list_select_related = ("shop",)
    raw_id_fields = ("shop",)
    show_full_result_count = False
