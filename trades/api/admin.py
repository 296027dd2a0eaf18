"""API keys in the admin: tenant admins manage their tenants' keys; the token is shown once."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from shops import caps
from shops.console.one_time import show_once
from shops.console.tenancy import WRITE_ROLES, TenantScopedAdmin
from trades.api.keys import create_api_key, revoke_api_key, usable_keys
from trades.key_models import ApiKey


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["tenant", "name", "scope", "expires_at"]

    def clean(self) -> dict:
        cleaned = super().clean()
        tenant = cleaned.get("tenant")
        if self.instance.pk is None and tenant is not None:
            try:
                caps.check_count(
                    usable_keys(tenant).count(),
                    settings.TENANT_MAX_API_KEYS,
                    "usable API keys; revoke one first",
                    "TENANT_MAX_API_KEYS",
                )
            except caps.OverCap as exc:
                raise forms.ValidationError(str(exc)) from None
        return cleaned


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    # a tenant's viewers do not see its keys; owners and admins manage them; revoke, never delete
    view_roles = WRITE_ROLES
    delete_roles = frozenset()
    deleted_with_parent = True  # an operator deleting the tenant deletes its keys

    form = ApiKeyForm
    list_display = ["name", "tenant", "prefix", "scope", "expires_at", "revoked_at", "last_used_at"]
    list_filter = ["scope"]
    list_select_related = ["tenant"]
    search_fields = ["name", "prefix"]
    actions = ["revoke_selected"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        # a key's tenant and scope are fixed: rotate to a new key instead
        return ["tenant", "scope", "prefix", "revoked_at", "last_used_at"] if obj else []

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # revoke instead, so the key's history stays

    def save_model(self, request: HttpRequest, obj: ApiKey, form, change: bool) -> None:
        if change:
            obj.save(update_fields=["name", "expires_at"])
            return
        issued = create_api_key(
            obj.tenant, obj.name, obj.scope, expires_at=obj.expires_at, created_by=request.user
        )
        obj.pk = issued.key.pk
        show_once(request, f"The token of API key {issued.key.name!r}", issued.token)

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            revoke_api_key(key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")
