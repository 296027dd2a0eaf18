"""Webhooks in the admin: members see their tenants' endpoints and deliveries; owners and
admins change them, disable or enable, redeliver. Secrets are never shown after creation.
Scoping is the console's one mixin."""

from __future__ import annotations

import json
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from shops import audit, caps
from shops.console.one_time import show_once
from shops.console.pages import pre, pretty_json
from shops.console.paginator import BoundedCountAdminMixin
from shops.console.tenancy import WRITE_ROLES, ReadOnlyInline, TenantScopedAdmin, scoped
from shops.console.times import in_zone, seconds_text, short
from shops.refetch import BadRefetch, parse_tids, parse_time
from trades.webhooks import endpoints as actions
from trades.webhooks import payload
from trades.webhooks.health import endpoint_health
from trades.webhooks.models import (
    SUBSCRIBABLE,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookReplay,
)
from trades.webhooks.replay import InvalidReplay, deliveries_by_state, request_replay


def clipped(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters for a list column; the whole of it on hover."""
    shown = text if len(text) <= width else text[: width - 1] + "…"
    return format_html('<span title="{}">{}</span>', text, shown)


class EndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=2000, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label=_("event types"),
        choices=[(t, t) for t in SUBSCRIBABLE],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["tenant", "url", "description", "event_types", "is_active"]

    def clean_url(self) -> str:
        try:
            return actions.check_url(self.cleaned_data["url"])
        except actions.InvalidEndpoint as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self) -> dict:
        cleaned = super().clean()
        tenant = cleaned.get("tenant")
        if self.instance.pk is None and tenant is not None:
            try:
                caps.check_count(
                    WebhookEndpoint.objects.filter(tenant=tenant).count(),
                    settings.TENANT_MAX_WEBHOOK_ENDPOINTS,
                    _("webhook endpoints; delete one first"),
                    "TENANT_MAX_WEBHOOK_ENDPOINTS",
                )
            except caps.OverCap as exc:
                raise forms.ValidationError(str(exc)) from None
        return cleaned


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(TenantScopedAdmin):
    # creating, changing and rotating record themselves (trades/webhooks/endpoints.py)
    audited = ("deleted",)
    audit_deleted = audit.Action.ENDPOINT_DELETED
    form = EndpointForm
    list_display = [
        "url",
        "tenant",
        "is_active",
        "disabled_reason",
        "failing_since",
        "backlog",
        "oldest_pending",
        "success_rate",
    ]
    list_filter = ["is_active"]
    list_select_related = ["tenant"]
    search_fields = ["url", "description"]
    readonly_fields = ["disabled_reason", "disabled_at", "failing_since"]

    # --- health: one pair of grouped queries for the whole page ------------------------------
    def get_changelist_instance(self, request: HttpRequest):
        changelist = super().get_changelist_instance(request)
        self._health = endpoint_health([e.pk for e in changelist.result_list])
        return changelist

    def _health_of(self, endpoint: WebhookEndpoint):
        found = getattr(self, "_health", {})
        return found.get(endpoint.pk) or endpoint_health([endpoint.pk])[endpoint.pk]

    @admin.display(description=_("backlog"))
    def backlog(self, endpoint: WebhookEndpoint) -> int:
        return self._health_of(endpoint).backlog

    @admin.display(description=_("oldest pending"))
    def oldest_pending(self, endpoint: WebhookEndpoint) -> str:
        seconds = self._health_of(endpoint).oldest_pending_seconds
        return "—" if seconds is None else seconds_text(timedelta(seconds=seconds))

    @admin.display(description=_("success 24h"))
    def success_rate(self, endpoint: WebhookEndpoint) -> str:
        rate = self._health_of(endpoint).success_rate_24h
        return "—" if rate is None else f"{rate:.1%}"

    actions = ["rotate_secrets", "send_test_events", "replay_events"]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        """A banner per endpoint of the user's tenants that its tenant was warned about."""
        warned = self.get_queryset(request).filter(is_active=True, failing_warned_at__isnull=False)
        window = timedelta(hours=settings.WEBHOOKS_DISABLE_AFTER_HOURS)
        for endpoint in warned.order_by("pk"):
            disable_at = endpoint.failing_since + window
            self.message_user(
                request,
                _(
                    "%(url)s has failed every delivery since %(since)s; it will be disabled "
                    "at %(at)s unless one succeeds."
                )
                % {
                    "url": endpoint.url,
                    "since": short(endpoint.failing_since),
                    "at": short(disable_at),
                },
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)

    @admin.action(description=_("Replay events to the selected endpoint…"))
    def replay_events(self, request: HttpRequest, queryset: QuerySet):
        chosen = list(scoped(request, queryset, "tenant", WRITE_ROLES).values_list("pk", flat=True))
        if len(chosen) != 1:
            self.message_user(request, _("Select one endpoint to replay to."), messages.ERROR)
            return None
        url = reverse("admin:trades_webhookreplay_add")
        return redirect(f"{url}?endpoint={chosen[0]}")

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return [*self.readonly_fields, "tenant"] if obj else list(self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in ("url", "description", "is_active")}
        fields["event_types"] = form.cleaned_data["event_types"]
        if change:
            current = WebhookEndpoint.objects.get(pk=obj.pk)
            actions.update_endpoint(current, **fields)
            return
        issued = actions.create_endpoint(
            obj.tenant, fields["url"], fields["event_types"], fields["description"]
        )
        obj.pk = issued.endpoint.pk
        label = _("The signing secret of %(url)s") % {"url": issued.endpoint.url}
        show_once(request, label, issued.secret)

    @admin.action(description=_("Rotate the signing secret (the old one keeps signing a while)"))
    def rotate_secrets(self, request: HttpRequest, queryset: QuerySet) -> None:
        for endpoint in scoped(request, queryset, "tenant", WRITE_ROLES):
            issued = actions.rotate_secret(endpoint)
            label = _("The new signing secret of %(url)s") % {"url": endpoint.url}
            show_once(request, label, issued.secret)

    @admin.action(description=_("Send a test event"))
    def send_test_events(self, request: HttpRequest, queryset: QuerySet) -> None:
        sent = 0
        for endpoint in scoped(request, queryset, "tenant", WRITE_ROLES).filter(is_active=True):
            try:
                actions.send_test_event(endpoint)
            except caps.OverCap as exc:
                self.message_user(request, f"{endpoint.url}: {exc}", messages.ERROR)
                continue
            sent += 1
        self.message_user(request, _("Queued %(count)d test event(s).") % {"count": sent})


class AttemptInline(ReadOnlyInline):
    """Every attempt of the delivery, for whoever may see the delivery (tenant staff too):
    what came back (status, the start of the body) and a readable error."""

    model = WebhookAttempt
    fields = ["number", "started", "duration_ms", "outcome", "status_code", "error", "answer"]
    readonly_fields = fields

    @admin.display(description=in_zone(_("started")))
    def started(self, attempt: WebhookAttempt) -> str:
        return short(attempt.started_at)

    @admin.display(description=_("response body (start)"))
    def answer(self, attempt: WebhookAttempt) -> str:
        return pre(attempt.response_body) if attempt.response_body else "—"


class DeliveryStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return WebhookDelivery.State.choices

    def queryset(self, request, queryset):
        return queryset.filter(state=self.value()) if self.value() else queryset


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(BoundedCountAdminMixin, TenantScopedAdmin):
    read_only = True  # deliveries come from events; members with write roles redeliver them
    list_display = [
        "id",
        "endpoint_url",
        "event_type",
        "state",
        "attempts",
        "next_attempt",
        "error",
    ]
    list_filter = [DeliveryStateFilter]
    list_select_related = ["endpoint", "event"]
    raw_id_fields = ["endpoint", "event", "tenant"]
    ordering = ["-id"]  # the primary key: a page never sorts the whole table
    inlines = [AttemptInline]
    actions = ["redeliver_selected"]
    readonly_fields = [
        "tenant",
        "endpoint",
        "event",
        "state",
        "attempts",
        "next_attempt_at",
        "last_attempt_at",
        "last_status_code",
        "last_error",
        "delivered_at",
        "request_body",
    ]

    @admin.display(description=_("endpoint"))
    def endpoint_url(self, delivery: WebhookDelivery) -> str:
        return clipped(delivery.endpoint.url, 48)

    @admin.display(description=_("event"))
    def event_type(self, delivery: WebhookDelivery) -> str:
        return delivery.event.type

    @admin.display(description=_("last error"))
    def error(self, delivery: WebhookDelivery) -> str:
        return clipped(delivery.last_error, 60) if delivery.last_error else "—"

    @admin.display(description=in_zone(_("next attempt")), ordering="next_attempt_at")
    def next_attempt(self, delivery: WebhookDelivery) -> str:
        return short(delivery.next_attempt_at)

    @admin.display(description=_("request body (signed and sent on every attempt)"))
    def request_body(self, delivery: WebhookDelivery) -> str:
        body = payload.render(delivery.event, delivery.event.tenant.slug)
        return pretty_json(json.loads(body))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # deliveries come from events

    @admin.action(description=_("Redeliver selected deliveries now"))
    def redeliver_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        selected = scoped(request, queryset, "tenant", WRITE_ROLES)
        tenants = selected.order_by().values_list("tenant_id", flat=True).distinct()
        count = 0
        for tenant_id in sorted(tenants):
            try:
                done = actions.redeliver(tenant_id, selected)
            except caps.OverCap as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            count += done.count
            if done.next_after is not None:
                self.message_user(
                    request,
                    _(
                        "Some selected deliveries were not queued: a redeliver queues one page "
                        "at most (WEBHOOKS_REDELIVER_PAGE); select them again once these are sent."
                    ),
                    messages.WARNING,
                )
        self.message_user(request, _("Queued %(count)d delivery(ies) again.") % {"count": count})


class ReplayForm(forms.ModelForm):
    """What a replay asks for; checked by the same rules as the API."""

    since = forms.CharField(
        required=False,
        label=_("since"),
        help_text=_("commit time, inclusive (2026-11-11 00:00; platform time without offset)"),
    )
    until = forms.CharField(
        required=False, label=_("until"), help_text=_("commit time, exclusive; default now")
    )
    tids = forms.CharField(
        required=False,
        label=_("tids"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("only these trades' changes: up to 100 ids, separated by spaces or commas"),
    )

    class Meta:
        model = WebhookReplay
        fields = ["endpoint"]

    def clean(self) -> dict:
        cleaned = super().clean()
        try:
            cleaned["wanted"] = {
                "since": parse_time(cleaned["since"], "since") if cleaned.get("since") else None,
                "until": parse_time(cleaned["until"], "until") if cleaned.get("until") else None,
                "tids": parse_tids(cleaned["tids"]) if cleaned.get("tids") else [],
            }
            if cleaned.get("endpoint") is not None:
                self.instance = request_replay(
                    cleaned["endpoint"], **cleaned["wanted"], requested_by=self.requested_by
                )
        except (BadRefetch, InvalidReplay, caps.OverCap) as exc:
            raise forms.ValidationError(str(exc)) from None
        return cleaned


@admin.register(WebhookReplay)
class WebhookReplayAdmin(TenantScopedAdmin):
    """Replays: owners and admins ask for one (the add form); members follow their progress."""

    deleted_with_parent = True  # goes with its endpoint (and tenant); never deleted on its own
    form = ReplayForm
    list_display = ["id", "endpoint_url", "state", "progress", "emitted", "deliveries", "created"]
    list_filter = ["state"]
    list_select_related = ["endpoint", "tenant"]
    ordering = ["-id"]
    readonly_fields = [
        "tenant",
        "endpoint",
        "since",
        "until",
        "tids",
        "state",
        "changes_total",
        "changes_done",
        "emitted",
        "deliveries",
        "error",
        "requested_by",
        "created_at",
        "started_at",
        "finished_at",
    ]

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.requested_by = f"console user {request.user.get_username()}"
        return form

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return self.readonly_fields if obj else []

    def get_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return self.readonly_fields if obj else ["endpoint", "since", "until", "tids"]

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # a replay is asked for once; it is followed, not edited

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: WebhookReplay, form, change: bool) -> None:
        obj.pk = form.instance.pk  # request_replay saved it while the form was cleaned

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        return {"endpoint": request.GET.get("endpoint")}

    @admin.display(description=_("endpoint"))
    def endpoint_url(self, replay: WebhookReplay) -> str:
        return clipped(replay.endpoint.url, 48)

    @admin.display(description=_("changes"))
    def progress(self, replay: WebhookReplay) -> str:
        return f"{replay.changes_done} / {replay.changes_total}"

    @admin.display(description=_("deliveries"))
    def deliveries(self, replay: WebhookReplay) -> str:
        found = deliveries_by_state([replay.pk])[replay.pk]
        return ", ".join(f"{state} {count}" for state, count in found.items())

    @admin.display(description=in_zone(_("requested")))
    def created(self, replay: WebhookReplay) -> str:
        return short(replay.created_at)
