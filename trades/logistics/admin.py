"""Stalled parcels in the console: each one with its age, quiet time and last trace event."""

from __future__ import annotations

from datetime import datetime

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shops.console.tenancy import ShopFilter, TenantScopedAdmin
from trades.logistics.models import StalledParcel


def _hours(since: datetime | None) -> str:
    if since is None:
        return "—"
    hours = (timezone.now() - since).total_seconds() / 3600
    if hours >= 48:
        return _("%(days).1f d") % {"days": hours / 24}
    return _("%(hours).0f h") % {"hours": hours}


@admin.register(StalledParcel)
class StalledParcelAdmin(TenantScopedAdmin):
    read_only = True
    list_display = (
        "shop",
        "tid",
        "company_name",
        "out_sid",
        "stall",
        "age",
        "quiet",
        "last_event",
        "stalled_at",
    )
    list_filter = (ShopFilter, "stall", "company_name")
    list_select_related = ("shop",)
    ordering = ("last_event_at", "consigned_at", "id")
    search_fields = ("=out_sid", "=tid")
    show_full_result_count = False

    @admin.display(description=_("age"), ordering="consigned_at")
    def age(self, parcel: StalledParcel) -> str:
        return _hours(parcel.consigned_at)

    @admin.display(description=_("quiet for"), ordering="last_event_at")
    def quiet(self, parcel: StalledParcel) -> str:
        return _hours(parcel.last_event_at or parcel.consigned_at)

    @admin.display(description=_("last event"))
    def last_event(self, parcel: StalledParcel) -> str:
        if not parcel.events:
            return "—"
        at, desc, _action = parcel.events[-1]
        return f"{at} {desc}"
