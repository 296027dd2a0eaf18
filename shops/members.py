"""A tenant's members: owners invite and remove them (the console's Members page)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext as _

from shops import audit
from shops.audit.diff import diff, snapshot
from shops.models import Membership, Tenant

log = logging.getLogger(__name__)


class MemberRefused(Exception):
    """The change would leave the tenant without an owner, or repeats a membership."""


@dataclass(frozen=True)
class Invited:
    membership: Membership
    password: str  # a first password for a new user, shown once; "" for an existing user


@transaction.atomic
def invite_member(tenant: Tenant, username: str, email: str, role: str) -> Invited:
    """Make ``username`` a member of ``tenant`` with ``role``; create the user (console
    staff, a random first password) when there is none of that name."""
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    password = ""
    if user is None:
        password = secrets.token_urlsafe(12)
        user = user_model.objects.create_user(
            username, email=email, password=password, is_staff=True
        )
    elif not user.is_staff:
        user_model.objects.filter(pk=user.pk).update(is_staff=True)
    if Membership.objects.filter(user=user, tenant=tenant).exists():
        raise MemberRefused(
            _("%(username)s is already a member of %(tenant)s")
            % {"username": username, "tenant": tenant}
        )
    membership = Membership.objects.create(user=user, tenant=tenant, role=role)
    added = diff({}, snapshot(membership))
    audit.record(audit.Action.ADMIN_ADDED, target=membership, changes=added)
    log.info("tenant %s: %s invited as %s", tenant.pk, username, role)
    return Invited(membership, password)


def leaves_an_owner(membership: Membership, new_role: str | None = None) -> bool:
    """Whether the tenant still has an owner once ``membership`` is removed (``new_role``
    None) or changed to ``new_role``."""
    if membership.role != Membership.Role.OWNER or new_role == Membership.Role.OWNER:
        return True
    others = Membership.objects.filter(tenant_id=membership.tenant_id, role=Membership.Role.OWNER)
    return others.exclude(pk=membership.pk).exists()


@transaction.atomic
def remove_member(membership: Membership) -> None:
    """Remove a member; the tenant's last owner stays (someone must be able to manage it)."""
    locked = Membership.objects.select_for_update().filter(tenant_id=membership.tenant_id)
    list(locked)  # one remover at a time per tenant: two owners cannot remove each other
    if not leaves_an_owner(membership):
        raise MemberRefused(
            _("%(user)s is the last owner of %(tenant)s")
            % {"user": membership.user, "tenant": membership.tenant}
        )
    forget_member(membership)
    log.info("tenant %s: member %s removed", membership.tenant_id, membership.user_id)


def forget_member(membership: Membership) -> None:
    """Delete the membership and record it (no owner check: operators may)."""
    gone = diff(snapshot(membership), {})
    audit.record(audit.Action.ADMIN_DELETED, target=membership, changes=gone)
    membership.delete()
