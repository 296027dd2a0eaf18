"""Tenant scoping of the admin in one place: who sees and changes what, by membership role.

Every ModelAdmin of a tenant-owned model uses ``TenantScopedAdmin``: its querysets, foreign-key
choices and add/change/delete/view permissions follow the user's memberships. Operators
(superusers) see every tenant, with a tenant column and filter. A row of another tenant is
"not found" (404), never "forbidden".
"""

from __future__ import annotations

from functools import reduce
from operator import or_
from typing import Any

from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import NestedObjects, get_deleted_objects
from django.db import router
from django.db.models import CASCADE, Model, QuerySet
from django.http import Http404, HttpRequest
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from shops.audit.console import AuditedAdminMixin
from shops.models import Membership, Shop, Tenant

Role = Membership.Role
VIEW_ROLES = frozenset(Role.values)
WRITE_ROLES = frozenset({Role.OWNER, Role.ADMIN})
OWNER_ROLES = frozenset({Role.OWNER})
_CACHE = "_ordersync_tenant_roles"


def tenant_roles(request: HttpRequest) -> dict[int, str]:
    """``{tenant_id: role}`` of the signed-in user, read once per request."""
    roles = getattr(request, _CACHE, None)
    if roles is None:
        user = request.user
        roles = (
            dict(Membership.objects.filter(user=user).values_list("tenant_id", "role"))
            if user.is_authenticated and user.is_active
            else {}
        )
        setattr(request, _CACHE, roles)
    return roles


def tenant_ids(request: HttpRequest, roles: frozenset[str] = VIEW_ROLES) -> list[int]:
    """The tenants in which the user holds one of ``roles``."""
    return sorted(t for t, role in tenant_roles(request).items() if role in roles)


def has_role(request: HttpRequest, tenant_id: int | None, roles: frozenset[str]) -> bool:
    """Superusers hold every role; ``tenant_id`` None asks "in any tenant"."""
    user = request.user
    if user.is_active and user.is_superuser:
        return True
    if not (user.is_active and user.is_staff):
        return False
    held = tenant_roles(request)
    if tenant_id is None:
        return any(role in roles for role in held.values())
    return held.get(tenant_id) in roles


def tenant_id_of(obj: Model, tenant_field: str) -> int:
    """Follow ``tenant_field`` ("tenant", "shop__tenant", "id" for a tenant) to the tenant id."""
    *hops, last = tenant_field.split("__")
    for hop in hops:
        obj = getattr(obj, hop)
    return obj.pk if last in ("id", "pk") else getattr(obj, f"{last}_id")


def scoped(request: HttpRequest, queryset: QuerySet, tenant_field: str, roles=VIEW_ROLES):
    """``queryset`` cut down to the user's tenants (all of it for superusers)."""
    if request.user.is_superuser:
        return queryset
    return queryset.filter(**{f"{tenant_field}__in": tenant_ids(request, roles)})


def id_value(list_filter: admin.SimpleListFilter) -> int:
    """The filter's value as a row id; anything else (text, NUL bytes, past bigint) makes the
    admin show its "invalid filter" page rather than fail in the database."""
    value = list_filter.value() or ""
    if not (value.isascii() and value.isdigit() and len(value) <= 19 and 0 < int(value) < 2**63):
        raise IncorrectLookupParameters(f"{list_filter.parameter_name}={value!r} is not an id")
    return int(value)


class TenantFilter(admin.SimpleListFilter):
    """Operators narrow any list to one tenant."""

    title = _("tenant")
    parameter_name = "tenant"

    def lookups(self, request, model_admin):
        return [(str(t.pk), t.name) for t in Tenant.objects.order_by("name")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{f"{self.tenant_field}": id_value(self)})
        return queryset


class ShopFilter(admin.SimpleListFilter):
    """The user's shops, from the small shop table (never a DISTINCT over a big one)."""

    title = _("shop")
    parameter_name = "shop"

    def lookups(self, request, model_admin):
        shops = scoped(request, Shop.objects.order_by("seller_nick"), "tenant")
        return [(str(pk), nick) for pk, nick in shops.values_list("pk", "seller_nick")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(shop_id=id_value(self))
        return queryset


class CascadeCounter(NestedObjects):
    """Collects a deletion like the admin does, but only counts the rows of ``counted`` models.

    Those rows (synced data, logs, unregistered children) can be millions: they are gathered as
    one query per relation, never loaded, and shown as a count on the confirmation page.
    """

    def __init__(self, *args: Any, counted: set[type[Model]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.counted = counted

    def can_fast_delete(self, objs: Any, from_field: Any = None) -> bool:
        if from_field is not None and from_field.remote_field.on_delete is not CASCADE:
            return False
        model = objs._meta.model if hasattr(objs, "_meta") else getattr(objs, "model", None)
        return model in self.counted

    def counts(self) -> dict[type[Model], int]:
        """Rows per counted model; a model reached by several paths is counted once."""
        by_model: dict[type[Model], list[QuerySet]] = {}
        for queryset in self.fast_deletes:
            by_model.setdefault(queryset.model, []).append(queryset.select_related(None))
        return {model: reduce(or_, sets).order_by().count() for model, sets in by_model.items()}


def cascaded_only(admin_site: admin.AdminSite) -> set[type[Model]]:
    """Models whose rows are deleted only with their parent: unregistered, read-only, or marked
    ``deleted_with_parent`` (API keys are revoked, never deleted, but go with their tenant).

    Nobody deletes them directly, so they must not block the cascade of a parent that the
    user may delete (Django would list them as "permissions needed").
    """
    return {
        model
        for model in apps.get_models()
        if not admin_site.is_registered(model)
        or getattr(admin_site.get_model_admin(model), "read_only", False)
        or getattr(admin_site.get_model_admin(model), "deleted_with_parent", False)
    }


def filled_in(tenants: QuerySet[Tenant]) -> dict[str, Any]:
    """Form field options that fill in the tenant of a user who may write to one only: a
    hidden, fixed field (its value comes from the server, never from the request)."""
    only = list(tenants[:2])
    if len(only) != 1:
        return {}
    return {"initial": only[0].pk, "disabled": True, "widget": forms.HiddenInput}


class TenantScopedAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Scopes a tenant-owned model's admin by the user's memberships.

    ``tenant_field`` is the lookup from the model to its tenant. Viewers see, owners and admins
    add and change, owners delete; ``read_only`` models (synced data, run logs) are changed by
    nobody in the admin, not even operators.
    """

    tenant_field = "tenant"
    view_roles: frozenset[str] = VIEW_ROLES
    add_roles: frozenset[str] = WRITE_ROLES
    change_roles: frozenset[str] = WRITE_ROLES
    delete_roles: frozenset[str] = OWNER_ROLES
    read_only = False
    deleted_with_parent = False  # True: never deleted here, but goes with its parent

    # --- rows -------------------------------------------------------------------------------
    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return scoped(request, super().get_queryset(request), self.tenant_field, self.view_roles)

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("no such object in your tenants")
        return obj

    # --- choices ----------------------------------------------------------------------------
    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs: Any):
        if not request.user.is_superuser and "queryset" not in kwargs:
            queryset = self.tenant_choices(db_field.related_model, request)
            if queryset is not None:
                kwargs["queryset"] = queryset
            if db_field.related_model is Tenant and queryset is not None:
                kwargs.update(filled_in(queryset))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def tenant_choices(self, model: type[Model], request: HttpRequest) -> QuerySet | None:
        """Choices of a tenant-owned model: only the tenants the user may write to."""
        writable = tenant_ids(request, self.change_roles | self.add_roles)
        if model is Tenant:
            return Tenant.objects.filter(pk__in=writable)
        if any(f.name == "tenant" for f in model._meta.get_fields()):
            return model._default_manager.filter(tenant_id__in=writable)
        return None

    # --- permissions ------------------------------------------------------------------------
    def _allowed(self, request: HttpRequest, obj: Model | None, roles: frozenset[str]) -> bool:
        tenant_id = None if obj is None else tenant_id_of(obj, self.tenant_field)
        return has_role(request, tenant_id, roles)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return has_role(request, None, self.view_roles)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, obj, self.view_roles | self.change_roles)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return not self.read_only and has_role(request, None, self.add_roles)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return not self.read_only and self._allowed(request, obj, self.change_roles)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return not self.read_only and self._allowed(request, obj, self.delete_roles)

    def get_deleted_objects(self, objs, request: HttpRequest):
        """Django's cascade check, except that read-only children follow their parent.

        A user who may delete a shop (or an operator a tenant) deletes its trades, runs and
        checkpoints with it; those rows are counted, not listed. Writable children (members,
        API keys, endpoints, shops of a tenant) are still checked object by object.
        """
        try:
            first = objs[0]
        except IndexError:
            return get_deleted_objects(objs, request, self.admin_site)
        counted = cascaded_only(self.admin_site) - {type(first)}
        collector = CascadeCounter(
            using=router.db_for_write(type(first)), origin=objs, counted=counted
        )
        collector.collect(objs)
        to_delete, model_count, perms_needed, protected = self._format_deleted(collector, request)
        for model, count in collector.counts().items():
            if count:
                name = model._meta.verbose_name_plural
                to_delete.append(f"{capfirst(name)}: {count:,}")
                model_count[name] = model_count.get(name, 0) + count
        return to_delete, model_count, perms_needed, protected

    def _format_deleted(self, collector: NestedObjects, request: HttpRequest):
        """The listed (not counted) part, formatted and checked as Django does it."""
        site = self.admin_site
        perms_needed: set[str] = set()

        def label(obj: Model) -> str:
            opts = obj._meta
            model_admin = site._registry.get(type(obj))
            if model_admin and not model_admin.has_delete_permission(request, obj):
                perms_needed.add(opts.verbose_name)
            return f"{capfirst(opts.verbose_name)}: {obj}"

        to_delete = collector.nested(label)
        protected = [label(obj) for obj in collector.protected]
        model_count = {
            model._meta.verbose_name_plural: len(rows)
            for model, rows in collector.model_objs.items()
        }
        return to_delete, model_count, perms_needed, protected

    # --- operators see the tenant -----------------------------------------------------------
    def get_list_display(self, request: HttpRequest):
        columns = list(super().get_list_display(request))
        if request.user.is_superuser and self.tenant_field != "id" and "tenant" not in columns:
            columns.insert(1, "tenant_name")
        return columns

    def get_list_filter(self, request: HttpRequest):
        filters = list(super().get_list_filter(request))
        if request.user.is_superuser and self.tenant_field != "id":
            field = {"tenant_field": self.tenant_field}
            filters.append(type("TenantFilter", (TenantFilter,), field))
        return filters

    def get_list_select_related(self, request: HttpRequest):
        related = super().get_list_select_related(request)
        if not request.user.is_superuser or self.tenant_field == "id" or related is True:
            return related
        *hops, _last = self.tenant_field.split("__")
        return [*(related or []), "__".join([*hops, "tenant"])]

    @admin.display(description=_("tenant"))
    def tenant_name(self, obj: Model) -> str:
        *hops, _last = self.tenant_field.split("__")
        for hop in hops:
            obj = getattr(obj, hop)
        return str(obj.tenant)


class ReadOnlyInline(admin.TabularInline):
    """Rows shown with their parent, which already scopes them; nobody edits them here."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_view_permission(self, request, obj=None) -> bool:
        # shown only inside the parent's page, whose admin already checked the user's tenant
        return True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
