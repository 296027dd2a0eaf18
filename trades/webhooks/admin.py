"""Webhooks in the admin: members see their tenants' endpoints and deliveries; owners and
admins change them, disable or enable, redeliver. Secrets are never shown after creation."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from shops.models import Tenant
from trades.api.admin import managed_tenants
from trades.webhook_models import SUBSCRIBABLE, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from trades.webhooks import endpoints as actions


def member_tenants(request: HttpRequest) -> QuerySet[Tenant]:
    if request.user.is_superuser:
        return Tenant.objects.all()
    return Tenant.objects.filter(memberships__user=request.user)


class TenantScopedAdmin(admin.ModelAdmin):
    """Members of a tenant view its rows; owners and admins (and operators) change them."""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).filter(tenant__in=member_tenants(request))

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "tenant":
            kwargs["queryset"] = managed_tenants(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and member_tenants(request).exists()

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        managed = managed_tenants(request)
        if obj is not None:
            return managed.filter(pk=obj.tenant_id).exists()
        return request.user.is_active and managed.exists()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.has_change_permission(request, obj)


class EndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in SUBSCRIBABLE], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["tenant", "url", "description", "event_types", "is_active"]

    def clean_url(self) -> str:
        try:
            return actions.check_url(self.cleaned_data["url"])
        except actions.InvalidEndpoint as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(TenantScopedAdmin):
    form = EndpointForm
    list_display = ["url", "tenant", "is_active", "disabled_reason", "failing_since"]
    list_filter = ["is_active"]
    list_select_related = ["tenant"]
    search_fields = ["url", "description"]
    readonly_fields = ["disabled_reason", "disabled_at", "failing_since"]
    actions = ["rotate_secrets", "send_test_events"]

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
        messages.warning(
            request, f"The signing secret is {issued.secret} — copy it now, it is not shown again."
        )

    @admin.action(description="Rotate the signing secret (the old one keeps signing a while)")
    def rotate_secrets(self, request: HttpRequest, queryset: QuerySet) -> None:
        for endpoint in queryset.filter(tenant__in=managed_tenants(request)):
            issued = actions.rotate_secret(endpoint)
            messages.warning(request, f"New secret of {endpoint.url}: {issued.secret}")

    @admin.action(description="Send a test event")
    def send_test_events(self, request: HttpRequest, queryset: QuerySet) -> None:
        sent = 0
        for endpoint in queryset.filter(tenant__in=managed_tenants(request), is_active=True):
            actions.send_test_event(endpoint)
            sent += 1
        self.message_user(request, f"Queued {sent} test event(s).")


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ["number", "started_at", "duration_ms", "outcome", "status_code", "error"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class DeliveryStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return WebhookDelivery.State.choices

    def queryset(self, request, queryset):
        return queryset.filter(state=self.value()) if self.value() else queryset


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TenantScopedAdmin):
    list_display = ["id", "endpoint", "event", "state", "attempts", "next_attempt_at", "last_error"]
    list_filter = [DeliveryStateFilter]
    list_select_related = ["endpoint", "event"]
    raw_id_fields = ["endpoint", "event", "tenant"]
    show_full_result_count = False  # no COUNT(*) over a large table
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
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # deliveries come from events

    @admin.action(description="Redeliver selected deliveries now")
    def redeliver_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = actions.redeliver(queryset.filter(tenant__in=managed_tenants(request)))
        self.message_user(request, f"Queued {count} delivery(ies) again.")
