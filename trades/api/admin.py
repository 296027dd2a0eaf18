"""API keys in the admin: tenant admins manage their tenants' keys; the token is shown once."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from shops.models import Membership, Tenant
from trades.api.keys import create_api_key, revoke_api_key
from trades.key_models import ApiKey


def managed_tenants(request: HttpRequest) -> QuerySet[Tenant]:
    """Tenants whose keys this user may manage: owners and admins; operators see all."""
    if request.user.is_superuser:
        return Tenant.objects.all()
    return Tenant.objects.filter(
        memberships__user=request.user,
        memberships__role__in=[Membership.Role.OWNER, Membership.Role.ADMIN],
    )


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["tenant", "name", "scope", "expires_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ["name", "tenant", "prefix", "scope", "expires_at", "revoked_at", "last_used_at"]
    list_filter = ["scope"]
    list_select_related = ["tenant"]
    search_fields = ["name", "prefix"]
    actions = ["revoke_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKey]:
        return super().get_queryset(request).filter(tenant__in=managed_tenants(request))

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "tenant":
            kwargs["queryset"] = managed_tenants(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        # a key's tenant and scope are fixed: rotate to a new key instead
        return ["tenant", "scope", "prefix", "revoked_at", "last_used_at"] if obj else []

    def _may_manage(self, request: HttpRequest) -> bool:
        return request.user.is_active and managed_tenants(request).exists()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._may_manage(request)

    def has_view_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return self._may_manage(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._may_manage(request)

    def has_change_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return self._may_manage(request)

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
        messages.warning(
            request,
            f"The API key is {issued.token} — copy it now, it will not be shown again.",
        )

    @admin.action(description="Revoke selected API keys")
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            revoke_api_key(key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")
