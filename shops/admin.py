"""The ops console for shops: tenants, members, apps, shops and their runs."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from ordersync.shown import shown
from shops import actions, jobs, members, refetch, schedules
from shops.audit import Action
from shops.audit.console import AuditedAdminMixin
from shops.caps import OverCap
from shops.console import connect
from shops.console.health import PLATFORM_TZ, format_lag, lag, problems, with_health
from shops.console.one_time import show_once
from shops.console.pages import pre
from shops.console.paginator import BoundedCountAdminMixin
from shops.console.tenancy import (
    OWNER_ROLES,
    WRITE_ROLES,
    ReadOnlyInline,
    ShopFilter,
    TenantScopedAdmin,
    has_role,
    scoped,
)
from shops.console.times import duration, in_zone, seconds_text, short, window
from shops.models import Checkpoint, Membership, Shop, SyncRun, Tenant, TopApp

NOBODY: frozenset[str] = frozenset()  # only operators (superusers)
# the jobs' names in the console's messages
JOB_NAMES = {
    "sync": _("sync"),
    "backfill": _("backfill"),
    "reconcile": _("reconcile"),
    "refetch": _("refetch"),
}
CHECKPOINT_HEADERS = (
    _("stream"),
    _("cursor"),
    _("last success"),
    _("failures"),
    _("next run"),
    _("windows on"),
    _("measured lag"),
    _("late arrivals"),
    _("set aside"),
    _("unresolved"),
)


# Operators' changes to console users (staff, superuser, passwords: masked) are audited too.
admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class AuditedUserAdmin(AuditedAdminMixin, UserAdmin):
    pass


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    tenant_field = "id"
    add_roles = NOBODY
    change_roles = OWNER_ROLES
    delete_roles = NOBODY
    list_display = ("name", "slug", "created")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


class InviteForm(forms.ModelForm):
    """An owner adds a member by user name: an existing user, or a new one created with a
    first password shown once."""

    username = forms.CharField(
        label=_("user name"), max_length=150, help_text=_("their sign-in name for this console")
    )
    email = forms.EmailField(label=_("email"), required=False, help_text=_("for a new user"))

    class Meta:
        model = Membership
        fields = ("tenant", "role")

    def clean(self) -> dict:
        cleaned = super().clean()
        tenant, username = cleaned.get("tenant"), cleaned.get("username")
        if tenant and username and tenant.memberships.filter(user__username=username).exists():
            raise forms.ValidationError(
                _("%(username)s is already a member of %(tenant)s.")
                % {"username": username, "tenant": tenant}
            )
        return cleaned


class MembershipChangeForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ("user", "tenant", "role")

    def clean_role(self) -> str:
        role = self.cleaned_data["role"]
        if self.instance.pk and not members.leaves_an_owner(self.instance, role):
            raise forms.ValidationError(
                _("The tenant needs an owner: make someone else owner first.")
            )
        return role


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    """A tenant's owners invite members, change their roles and remove them."""

    audited = ("changed",)  # inviting and removing record themselves (shops/members.py)

    add_roles = OWNER_ROLES
    change_roles = OWNER_ROLES
    delete_roles = OWNER_ROLES
    list_display = ("user", "email", "role")
    list_filter = ("role",)
    list_select_related = ("user", "tenant")
    raw_id_fields = ("user",)
    actions = ["remove_members"]

    @admin.display(description=_("email"), ordering="user__email")
    def email(self, membership: Membership) -> str:
        return membership.user.email or "—"

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        kwargs["form"] = MembershipChangeForm if obj else InviteForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj=None):
        return ("user", "tenant", "role") if obj else ("username", "email", "tenant", "role")

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return ("user", "tenant") if obj else ()

    def save_model(self, request: HttpRequest, obj: Membership, form, change: bool) -> None:
        if change:
            obj.save(update_fields=["role"])
            return
        data = form.cleaned_data
        invited = members.invite_member(data["tenant"], data["username"], data["email"], obj.role)
        obj.pk, obj.user = invited.membership.pk, invited.membership.user
        if invited.password:
            label = _("The first password of %(username)s") % {"username": data["username"]}
            show_once(request, label, invited.password)

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        if request.user.is_superuser:  # operators may leave a tenant ownerless (or delete it)
            members.forget_member(obj)
            return
        try:
            members.remove_member(obj)
        except members.MemberRefused as exc:  # another owner left meanwhile
            self.message_user(request, str(exc), messages.ERROR)

    def has_delete_permission(self, request: HttpRequest, obj: Membership | None = None) -> bool:
        """Owners remove members, but never their tenant's last owner."""
        allowed = super().has_delete_permission(request, obj)
        if not allowed or obj is None or request.user.is_superuser:
            return allowed
        return members.leaves_an_owner(obj)

    def get_actions(self, request: HttpRequest):
        found = super().get_actions(request)
        found.pop("delete_selected", None)  # remove_members keeps the last owner
        return found

    @admin.action(description=_("Remove selected members"), permissions=["delete"])
    def remove_members(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        removed = 0
        for membership in scoped(request, queryset, "tenant", OWNER_ROLES):
            try:
                members.remove_member(membership)
            except members.MemberRefused as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            removed += 1
        self.message_user(request, _("Removed %(count)d member(s).") % {"count": removed})


class TopAppForm(forms.ModelForm):
    """The app secret is write-only: typed once, stored encrypted, never shown again."""

    new_app_secret = forms.CharField(
        label=_("app secret"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("the app's secret from the TOP console; leave empty to keep the current one"),
    )

    class Meta:
        model = TopApp
        fields = (
            "name",
            "app_key",
            "gateway_url",
            "authorize_url",
            "token_url",
            "sign_method",
            "calls_per_minute",
        )

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.instance.pk and not cleaned.get("new_app_secret"):
            self.add_error("new_app_secret", _("an app needs its secret to sign calls"))
        return cleaned

    def save(self, commit: bool = True) -> TopApp:
        if self.cleaned_data.get("new_app_secret"):
            self.instance.app_secret = self.cleaned_data["new_app_secret"]
        return super().save(commit)


@admin.register(TopApp)
class TopAppAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """The ISV's apps: operators only (the default permissions give tenant staff none)."""

    form = TopAppForm
    list_display = ("name", "app_key", "sign_method", "calls_per_minute", "gateway_url")


class RecentRunsInline(ReadOnlyInline):
    model = SyncRun
    verbose_name_plural = _("last runs")
    fields = readonly_fields = (
        "started_at",
        "took",
        "kind",
        "stream",
        "outcome",
        "api_calls",
        "trades_written",
        "error_summary",
    )
    show_change_link = True
    LIMIT = 10

    def get_queryset(self, request: HttpRequest) -> QuerySet[SyncRun]:
        # an inline formset cannot slice, so pick the newest runs' ids first (shop index)
        shop_id = (request.resolver_match.kwargs if request.resolver_match else {}).get("object_id")
        newest = SyncRun.objects.filter(shop_id=shop_id).order_by("-started_at")
        ids = list(newest.values_list("pk", flat=True)[: self.LIMIT]) if shop_id else []
        return super().get_queryset(request).filter(pk__in=ids).order_by("-started_at")

    @admin.display(description=_("duration"))
    def took(self, run: SyncRun) -> str:
        return duration(run.started_at, run.finished_at)

    @admin.display(description=_("error"))
    def error_summary(self, run: SyncRun) -> str:
        return f"{run.error_class}: {run.error_message[:200]}" if run.error_class else ""


class BackfillForm(forms.Form):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["days"] = forms.IntegerField(
            label=_("days"),
            min_value=1,
            max_value=settings.BACKFILL_DAYS,
            initial=7,
            help_text=_("days of trades and refunds to read again, by creation time"),
        )


class RefetchForm(forms.Form):
    tids = forms.CharField(
        label=_("trade ids"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=format_lazy(
            _("up to {} trade ids, separated by spaces, commas or lines"), refetch.MAX_TIDS
        ),
    )
    modified_after = forms.CharField(
        label=_("modified after"),
        required=False,
        help_text=_("or a window: platform time, YYYY-MM-DD HH:MM:SS"),
    )
    modified_before = forms.CharField(
        label=_("modified before"), required=False, help_text=_("at most a day after the start")
    )

    def clean(self) -> dict:
        data = super().clean()
        given = {k: v for k, v in data.items() if v}
        try:
            data["params"] = refetch.refetch_params(**given)
        except refetch.BadRefetch as error:
            raise forms.ValidationError(str(error)) from None
        return data


class ReconcileForm(forms.Form):
    day = forms.DateField(
        label=_("day"),
        help_text=_("platform (Asia/Shanghai) day of trade creation, YYYY-MM-DD"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean_day(self) -> date:
        day = self.cleaned_data["day"]
        if day > timezone.now().astimezone(PLATFORM_TZ).date():
            raise forms.ValidationError(_("that day has not happened yet"))
        return day


STATUS_COLOURS = {
    Shop.Status.ACTIVE: "#2e7d32",
    Shop.Status.PAUSED: "#757575",
    Shop.Status.NEEDS_REAUTH: "#c62828",
    Shop.Status.DISABLED: "#424242",
}


def status_badge(shop: Shop, with_mode: bool = True) -> str:
    colour = STATUS_COLOURS.get(shop.status, "#424242")
    badge = format_html(
        '<span style="background:{};color:#fff;padding:1px 6px;border-radius:8px">{}</span>',
        colour,
        shop.get_status_display(),
    )
    if shop.degraded and with_mode:
        badge = format_html(
            '{} <span style="background:#ef6c00;color:#fff;padding:1px 6px;'
            'border-radius:8px">{}</span>',
            badge,
            _("degraded"),
        )
    return badge


@admin.register(Shop)
class ShopAdmin(TenantScopedAdmin):
    audit_deleted = Action.SHOP_DISCONNECTED
    list_display = (
        "seller_nick",
        "status_badge",
        "cursor_lag",
        "last_success",
        "failures",
        "sync_mode",
        "next_run",
        "calls_today",
    )
    list_filter = ("status", "platform", "degraded")
    search_fields = ("seller_nick",)
    list_select_related = ("tenant", "app")
    readonly_fields = (
        "tenant",
        "app",
        "platform",
        "seller_nick",
        "seller_id",
        "status_badge",
        "status_reason",
        "problem_list",
        "sync_mode",
        "degraded_since_shown",
        "degraded_reason",
        "next_run",
        "cursor_lag",
        "last_success",
        "failures",
        "last_error",
        "calls_today",
        "session_expires_at",
        "refresh_expires_at",
        "checkpoints",
        "created",
    )
    fieldsets = (
        (None, {"fields": ("seller_nick", "seller_id", "platform", "tenant", "app")}),
        (
            _("Health"),
            {
                "fields": (
                    "status_badge",
                    "status_reason",
                    "problem_list",
                    "sync_mode",
                    "degraded_since_shown",
                    "degraded_reason",
                    "next_run",
                    "cursor_lag",
                    "last_success",
                    "failures",
                    "last_error",
                    "calls_today",
                    "checkpoints",
                )
            },
        ),
        (_("Authorization"), {"fields": ("session_expires_at", "refresh_expires_at")}),
        (_("Schedule"), {"fields": ("interval_mode", "interval_minutes")}),
    )
    inlines = [RecentRunsInline]
    actions = ["sync_now", "backfill", "reconcile", "refetch", "pause", "resume"]
    change_form_template = "admin/shops/shop/change_form.html"
    change_list_template = "admin/shops/shop/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Shop]:
        return with_health(super().get_queryset(request))

    # --- columns ----------------------------------------------------------------------------
    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, shop: Shop) -> str:
        return status_badge(shop, with_mode=False)  # the sync mode has a column of its own

    @admin.display(description=_("cursor lag"), ordering="cursor")
    def cursor_lag(self, shop: Shop) -> str:
        return format_lag(lag(shop))

    @admin.display(description=in_zone(_("last success")), ordering="last_success")
    def last_success(self, shop: Shop) -> str:
        return short(shop.last_success, _("never"))

    @admin.display(description=_("sync mode"), ordering="degraded")
    def sync_mode(self, shop: Shop) -> str:
        """ "healthy" or "degraded" in words (a boolean icon read a healthy shop as a red ✗)."""
        if not shop.degraded:
            return _("healthy")
        return format_html(
            '<span class="degraded" title="{}">{}</span>', shop.degraded_reason, _("degraded")
        )

    @admin.display(description=_("degraded since"))
    def degraded_since_shown(self, shop: Shop) -> str:
        return shown(shop.degraded_since) if shop.degraded else "—"

    @admin.display(description=in_zone(_("next sync")), ordering="next_sync")
    def next_run(self, shop: Shop) -> str:
        """When the sync schedule fires next, or why it does not."""
        if shop.status != Shop.Status.ACTIVE:
            return _("none (%(status)s)") % {"status": shop.get_status_display()}
        return short(getattr(shop, "next_sync", None), _("not scheduled"))

    @admin.display(description=_("fails in a row"), ordering="failures")
    def failures(self, shop: Shop) -> int:
        return shop.failures

    @admin.display(description=_("last error"))
    def last_error(self, shop: Shop) -> str:
        return pre(shop.last_error or "")

    @admin.display(description=_("API calls today"), ordering="calls_today")
    def calls_today(self, shop: Shop) -> int:
        return shop.calls_today

    @admin.display(description=_("problems"))
    def problem_list(self, shop: Shop) -> str:
        return ", ".join(str(p) for p in problems(shop)) or _("none")

    @admin.display(description=_("streams"))
    def checkpoints(self, shop: Shop) -> str:
        rows = Checkpoint.objects.filter(shop=shop).order_by("stream")
        return format_html(
            "<table><tr>{}</tr>{}</table>",
            format_html_join("", "<th>{}</th>", ((h,) for h in CHECKPOINT_HEADERS)),
            format_html_join(
                "",
                "<tr>" + "<td>{}</td>" * 10 + "</tr>",
                (
                    (c.get_stream_display(), shown(c.cursor), shown(c.last_success_at))
                    + (c.consecutive_failures, shown(c.next_run_at))
                    + (c.progress.get("source", "—") if c.cursor else "—",)
                    + (seconds_text(timedelta(seconds=c.measured_lag())), c.late_arrivals)
                    # records the reconcile will repair / the platform did not return to it
                    + (c.records_kept("set_aside"), c.records_kept("unresolved"))
                    for c in rows
                ),
            ),
        )

    # --- saving: only the schedule is edited here; everything else goes through actions ------
    def save_model(self, request: HttpRequest, obj: Shop, form, change: bool) -> None:
        obj.save(update_fields=["interval_mode", "interval_minutes", "updated"])
        schedules.sync_schedules(obj)

    # --- actions ----------------------------------------------------------------------------
    def _writable(self, request: HttpRequest, queryset: QuerySet[Shop]) -> list[Shop]:
        """The selected shops the user may act on (a viewer elsewhere may select more)."""
        return list(scoped(request, queryset, "tenant", WRITE_ROLES))

    def _queue(self, request, shops: list[Shop], kind: str, *args) -> None:
        active = [shop for shop in shops if shop.status == Shop.Status.ACTIVE]
        queued = 0
        for shop in active:
            if request.user.is_superuser:  # operators are not a tenant: no caps
                actions.queue_job(shop, kind, *args)
                jobs.record_job(shop, kind, args)
                queued += 1
                continue
            try:
                jobs.request_job(shop, kind, *args)
            except OverCap as exc:
                self.message_user(request, f"{shop.seller_nick}: {exc}", messages.ERROR)
                continue
            queued += 1
        skipped = len(shops) - len(active)
        self.message_user(
            request,
            _("Queued %(job)s for %(count)d shop(s).") % {"job": JOB_NAMES[kind], "count": queued},
        )
        if skipped:
            self.message_user(
                request,
                _("%(count)d shop(s) are not active and were skipped.") % {"count": skipped},
                messages.WARNING,
            )

    @admin.action(description=_("Sync now"), permissions=["change"])
    def sync_now(self, request: HttpRequest, queryset: QuerySet[Shop]) -> None:
        self._queue(request, self._writable(request, queryset), "sync")

    @admin.action(description=_("Backfill N days…"), permissions=["change"])
    def backfill(self, request: HttpRequest, queryset: QuerySet[Shop]):
        form = BackfillForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            days = form.cleaned_data["days"]
            self._queue(request, self._writable(request, queryset), "backfill", days)
            return None
        return self._action_form(request, queryset, form, "backfill", _("Backfill N days"))

    @admin.action(description=_("Reconcile a day…"), permissions=["change"])
    def reconcile(self, request: HttpRequest, queryset: QuerySet[Shop]):
        form = ReconcileForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            day = form.cleaned_data["day"].isoformat()
            self._queue(request, self._writable(request, queryset), "reconcile", day)
            return None
        return self._action_form(request, queryset, form, "reconcile", _("Reconcile a day"))

    @admin.action(description=_("Re-pull trades…"), permissions=["change"])
    def refetch(self, request: HttpRequest, queryset: QuerySet[Shop]):
        form = RefetchForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            params = form.cleaned_data["params"]
            self._queue(request, self._writable(request, queryset), "refetch", params)
            return None
        return self._action_form(request, queryset, form, "refetch", _("Re-pull trades"))

    def _action_form(self, request, queryset, form, action: str, title: str) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "action": action,
            "shops": self._writable(request, queryset),
        }
        return TemplateResponse(request, "admin/shops/shop/action_form.html", context)

    @admin.action(description=_("Pause"), permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Shop]) -> None:
        shops = [s for s in self._writable(request, queryset) if s.status == Shop.Status.ACTIVE]
        for shop in shops:
            actions.pause_shop(shop)
        self.message_user(request, _("Paused %(count)d shop(s).") % {"count": len(shops)})

    @admin.action(description=_("Resume"), permissions=["change"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Shop]) -> None:
        shops = [s for s in self._writable(request, queryset) if s.status == Shop.Status.PAUSED]
        for shop in shops:
            actions.resume_shop(shop)
        self.message_user(request, _("Resumed %(count)d paused shop(s).") % {"count": len(shops)})

    # --- connecting shops -------------------------------------------------------------------
    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("connect/", wrap(self.connect_view), name="shops_shop_connect"),
            path("oauth/callback/", wrap(self.callback_view), name="shops_shop_oauth_callback"),
            *super().get_urls(),
        ]

    def _may_connect(self, request: HttpRequest) -> None:
        if not has_role(request, None, WRITE_ROLES):
            raise PermissionDenied

    def connect_view(self, request: HttpRequest) -> HttpResponse:
        self._may_connect(request)
        return connect.connect_view(request, self._context(request))

    def callback_view(self, request: HttpRequest) -> HttpResponse:
        self._may_connect(request)
        return connect.callback_view(request, self._context(request))

    def _context(self, request: HttpRequest) -> dict:
        return {**self.admin_site.each_context(request), "opts": self.model._meta}

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        """Shops are added by the seller's authorization, not typed in."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(reverse("admin:shops_shop_connect"))

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return has_role(request, None, WRITE_ROLES)

    def change_view(self, request: HttpRequest, object_id: str, form_url="", extra_context=None):
        buttons = [
            ("sync_now", _("Sync now")),
            ("backfill", _("Backfill…")),
            ("reconcile", _("Reconcile a day…")),
            ("refetch", _("Re-pull a window…")),
            ("pause", _("Pause")),
            ("resume", _("Resume")),
        ]
        extra = {"shop_buttons": buttons, **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra = {"may_connect": has_role(request, None, WRITE_ROLES), **(extra_context or {})}
        return super().changelist_view(request, extra)


@admin.register(Checkpoint)
class CheckpointAdmin(TenantScopedAdmin):
    tenant_field = "shop__tenant"
    read_only = True
    list_display = (
        "shop",
        "stream",
        "cursor",
        "last_success_at",
        "consecutive_failures",
        "measured_lag",
        "late_arrivals",
    )
    list_filter = ("stream",)
    list_select_related = ("shop",)
    readonly_fields = ("error",)
    exclude = ("last_error",)

    @admin.display(description=_("last error"))
    def error(self, checkpoint: Checkpoint) -> str:
        return pre(checkpoint.last_error)

    @admin.display(description=_("measured lag (s)"), ordering="measured_lag_seconds")
    def measured_lag(self, checkpoint: Checkpoint) -> int:
        """Decayed to now: what widens this stream's lag and overlap (docs/lag.md)."""
        return round(checkpoint.measured_lag())


@admin.register(SyncRun)
class SyncRunAdmin(BoundedCountAdminMixin, TenantScopedAdmin):
    tenant_field = "shop__tenant"
    read_only = True
    list_display = (
        "started",
        "shop",
        "kind",
        "stream",
        "outcome",
        "took",
        "api_calls",
        "trades_written",
        "error_class",
    )
    list_filter = ("outcome", "kind", "stream")
    list_select_related = ("shop",)
    ordering = ("-started_at",)
    fieldsets = (
        (None, {"fields": ("shop", "kind", "stream", "outcome", "worker")}),
        (_("When"), {"fields": ("started_exact", "finished", "took", "window_exact")}),
        (
            _("What it did"),
            {"fields": ("api_calls", "pages", "trades_seen", "trades_written", "late_arrivals")},
        ),
        (_("Out of the ordinary"), {"fields": ("notes", "set_aside", "error_class", "error")}),
    )
    readonly_fields = ("started_exact", "finished", "took", "window_exact", "error")

    def get_list_filter(self, request: HttpRequest):
        return [ShopFilter, *super().get_list_filter(request)]

    @admin.display(description=in_zone(_("started")), ordering="started_at")
    def started(self, run: SyncRun) -> str:
        return short(run.started_at)

    @admin.display(description=_("started"))
    def started_exact(self, run: SyncRun) -> str:
        return shown(run.started_at)

    @admin.display(description=_("finished"))
    def finished(self, run: SyncRun) -> str:
        return shown(run.finished_at, _("not yet"))

    @admin.display(description=_("duration"))
    def took(self, run: SyncRun) -> str:
        return duration(run.started_at, run.finished_at)

    @admin.display(description=_("window (platform time)"))
    def window_exact(self, run: SyncRun) -> str:
        return window(run.window_start, run.window_end)

    @admin.display(description=_("error message"))
    def error(self, run: SyncRun) -> str:
        return pre(run.error_message)
