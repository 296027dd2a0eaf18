"""API keys in the admin: tenant admins manage their tenants' keys; the token is shown once."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shops import audit, caps
from shops.audit.diff import one_change
from shops.console.one_time import show_once
from shops.console.tenancy import WRITE_ROLES, TenantScopedAdmin
from shops.console.times import seconds_text
from trades.api.feed_position import feed_position
from trades.api.key_models import ApiKey
from trades.api.keys import (
    KeyExpiryRefused,
    change_key_expiry,
    create_api_key,
    revoke_api_key,
    usable_keys,
)


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["tenant", "name", "scope", "expires_at"]

    def clean_expires_at(self):
        expires_at = self.cleaned_data.get("expires_at")
        stored = ApiKey.objects.filter(pk=self.instance.pk).first() if self.instance.pk else None
        if stored is None or expires_at == stored.expires_at:
            return expires_at
        if not stored.is_usable(timezone.now()):
            raise forms.ValidationError(
                _("An expired or revoked key cannot be revived; create a new one.")
            )
        if stored.expires_at is not None and (expires_at is None or expires_at > stored.expires_at):
            raise forms.ValidationError(
                _("A key's expiry can only be brought forward; rotate it for a longer-lived key.")
            )
        return expires_at

    def clean(self) -> dict:
        cleaned = super().clean()
        tenant = cleaned.get("tenant")
        if self.instance.pk is None and tenant is not None:
            try:
                caps.check_count(
                    usable_keys(tenant).count(),
                    settings.TENANT_MAX_API_KEYS,
                    _("usable API keys; revoke one first"),
                    "TENANT_MAX_API_KEYS",
                )
            except caps.OverCap as exc:
                raise forms.ValidationError(str(exc)) from None
        return cleaned


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    # creating, revoking and expiring record themselves (trades/api/keys.py); a rename here
    audited: tuple[str, ...] = ()
    # a tenant's viewers do not see its keys; owners and admins manage them; revoke, never delete
    view_roles = WRITE_ROLES
    delete_roles = frozenset()
    deleted_with_parent = True  # an operator deleting the tenant deletes its keys

    form = ApiKeyForm
    list_display = [
        "name",
        "tenant",
        "prefix",
        "scope",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "feed_lag",
    ]

    @admin.display(description=_("change feed lag"))
    def feed_lag(self, key: ApiKey) -> str:
        position = feed_position(key)
        if position.lag_seconds is None:
            return _("never read") if position.read_at is None else "—"
        if position.caught_up:
            return _("caught up")
        return _("%(span)s behind") % {
            "span": seconds_text(timedelta(seconds=position.lag_seconds))
        }

    list_filter = ["scope"]
    list_select_related = ["tenant"]
    search_fields = ["name", "prefix"]
    actions = ["revoke_selected"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        # a key's tenant and scope are fixed: rotate to a new key instead; a dead key stays dead
        if obj is None:
            return []
        fixed = ["tenant", "scope", "prefix", "revoked_at", "last_used_at"]
        return fixed if obj.is_usable(timezone.now()) else [*fixed, "expires_at"]

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # revoke instead, so the key's history stays

    def save_model(self, request: HttpRequest, obj: ApiKey, form, change: bool) -> None:
        if change:
            obj.save(update_fields=["name"])
            if "name" in form.changed_data:
                renamed = one_change("name", form.initial.get("name"), obj.name)
                audit.record(audit.Action.ADMIN_CHANGED, target=obj, changes=renamed)
            if "expires_at" in form.changed_data:
                try:
                    change_key_expiry(obj, form.cleaned_data["expires_at"])
                except KeyExpiryRefused as exc:  # it expired between the form and now
                    messages.error(request, str(exc))
            return
        issued = create_api_key(
            obj.tenant, obj.name, obj.scope, expires_at=obj.expires_at, created_by=request.user
        )
        obj.pk = issued.key.pk
        label = _("The token of API key %(name)s") % {"name": repr(issued.key.name)}
        show_once(request, label, issued.token)

    @admin.action(description=_("Revoke selected API keys"), permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            revoke_api_key(key)
        self.message_user(request, _("Revoked %(count)d key(s).") % {"count": queryset.count()})
