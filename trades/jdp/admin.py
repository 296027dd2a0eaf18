"""JDP in the console: the RDS (operators), each shop's enrolment and findings, and a page
of every shop's channels with their lag."""

from __future__ import annotations

import threading
from collections import Counter

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from ordersync.taobao.errors import TopError
from shops.console.tenancy import TenantScopedAdmin
from trades.channels import shop_channels
from trades.jdp import findings
from trades.jdp.enrol import enrol_shop, refresh_statuses
from trades.jdp.models import JdpFinding, JdpRds, JdpShop, ShopChannels


@admin.register(JdpRds)
class JdpRdsAdmin(admin.ModelAdmin):
    """Operators only (no tenant owns an RDS); the URL is encrypted at rest, never shown."""

    list_display = ("name", "has_url")
    fields = ("name", "url")

    def has_url(self, obj: JdpRds) -> bool:
        return bool(obj.url)

    has_url.boolean = True
    has_url.short_description = _("own URL (else JDP_DATABASE_URL)")

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.base_fields["url"].widget = forms.PasswordInput(render_value=False)
        form.base_fields["url"].required = False
        return form

    def save_model(self, request, obj, form, change) -> None:
        if change and not form.cleaned_data.get("url"):
            obj.url = JdpRds.objects.get(pk=obj.pk).url  # left empty: keep the stored one
        super().save_model(request, obj, form, change)


class EnrolForm(forms.ModelForm):
    class Meta:
        model = JdpShop
        fields = ("shop", "rds", "history_days")

    def clean_history_days(self) -> int:
        days = self.cleaned_data["history_days"]
        if days > 90:
            raise forms.ValidationError(_("the platform pushes at most 90 days of history"))
        return days


@admin.register(JdpShop)
class JdpShopAdmin(TenantScopedAdmin):
    """Adding a row enrols the shop (``taobao.jushita.jdp.user.add``); the action reads the
    status back. Counters are written by the consumer and the safety polling."""

    tenant_field = "shop__tenant"
    deleted_with_parent = True  # ended with manage.py jdp_enrol --delete (user.delete)
    form = EnrolForm
    list_display = (
        "shop",
        "rds",
        "status",
        "behind_seconds",
        "freshness_seconds",
        "changes_written",
        "late",
        "found_by_polling",
        "found_by_reconcile",
        "status_checked_at",
    )
    list_filter = ("status",)
    list_select_related = ("shop", "rds")
    raw_id_fields = ("shop",)
    search_fields = ("shop__seller_nick",)
    show_full_result_count = False
    actions = ("read_status",)

    # the page's findings, read once per request (per thread: one admin serves them all)
    _page = threading.local()

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        self._page.found = findings.counts([row.shop_id for row in changelist.result_list])
        return changelist

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ()
        return [f.name for f in JdpShop._meta.fields]

    @admin.display(description=_("stored first by polling"))
    def found_by_polling(self, obj: JdpShop) -> str:
        return found_text(getattr(self._page, "found", {}).get(obj.shop_id), "polling")

    @admin.display(description=_("stored first by the reconcile"))
    def found_by_reconcile(self, obj: JdpShop) -> str:
        return found_text(getattr(self._page, "found", {}).get(obj.shop_id), "reconcile")

    def save_model(self, request, obj: JdpShop, form, change) -> None:
        if change:
            return
        try:
            enrol_shop(obj.shop, obj.rds, obj.history_days)
        except TopError as error:
            message = _("the platform refused: %(error)s") % {"error": error}
            self.message_user(request, message, messages.ERROR)

    @admin.action(description=_("Read the JDP status back from the platform"))
    def read_status(self, request: HttpRequest, queryset) -> None:
        apps = {state.shop.app for state in queryset.select_related("shop__app")}
        for app in apps:
            try:
                refresh_statuses(app)
            except TopError as error:
                self.message_user(request, f"{app}: {error}", messages.ERROR)
        self.message_user(request, _("status read for %(count)d app(s)") % {"count": len(apps)})


@admin.register(ShopChannels)
class ShopChannelsAdmin(TenantScopedAdmin):
    """Every visible shop: which channels are live, and how far each one trails."""

    read_only = True
    list_display = (
        "seller_nick",
        "status",
        "polling_channel",
        "tmc_channel",
        "jdp_channel",
        "jdp_findings",
    )
    list_select_related = ("tenant",)
    search_fields = ("seller_nick",)
    show_full_result_count = False

    # the page's channels, read once per request; per thread, as one admin serves every request
    _page = threading.local()

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        self._page.channels = shop_channels(list(changelist.result_list))
        self._page.found = findings.counts([shop.pk for shop in changelist.result_list])
        return changelist

    def _show(self, obj, index: int) -> str:
        channel = getattr(self._page, "channels", {}).get(obj.pk, [None] * 3)[index]
        if channel is None or not channel.live:
            return _("off")
        lag = channel.lag_seconds
        if lag is None:
            return _("live")
        return _("live, %(seconds)s s behind") % {"seconds": f"{lag:,.0f}"}

    @admin.display(description=_("polling (cursor lag)"))
    def polling_channel(self, obj) -> str:
        return self._show(obj, 0)

    @admin.display(description=_("TMC (freshness)"))
    def tmc_channel(self, obj) -> str:
        return self._show(obj, 1)

    @admin.display(description=_("JDP (behind the push)"))
    def jdp_channel(self, obj) -> str:
        return self._show(obj, 2)

    @admin.display(description=_("JDP findings (stored first by polling; by the reconcile)"))
    def jdp_findings(self, obj) -> str:
        found = getattr(self._page, "found", {}).get(obj.pk)
        if not found:
            return "–"
        return "; ".join(found_text(found, channel) for channel in findings.CHANNELS)


def found_text(found: Counter | None, channel: str) -> str:
    """What became of the versions ``channel`` stored before JDP: late, missed, awaiting."""
    found = found or Counter()
    return _("%(late)d late, %(missed)d missed, %(pending)d awaiting JDP") % {
        "late": found[(channel, JdpFinding.Outcome.LATE)],
        "missed": found[(channel, JdpFinding.Outcome.MISSED)],
        "pending": found[(channel, JdpFinding.Outcome.PENDING)],
    }
