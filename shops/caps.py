"""Per-tenant caps on what all tenants share: the workers, the webhook queue, and each TOP
app's call budget. One tenant reaching a cap is told which, and waits; the others do not.

Counting caps (keys, endpoints) raise :class:`OverCap` (409: remove some first); rate caps
(test events, jobs, redeliveries) raise :class:`TooSoon` (429, with the seconds to wait).
"""

from __future__ import annotations

import math

from django.utils.translation import gettext as _

from shops.models import Tenant


class OverCap(Exception):
    """A cap is reached; the message says what happened and names the cap (the setting
    that sets it, or the rule)."""

    status = 409

    def __init__(self, message: str, cap: str) -> None:
        super().__init__(_("%(message)s (cap: %(cap)s)") % {"message": message, "cap": cap})
        self.cap = cap


class TooSoon(OverCap):
    """A rate cap is reached; ``retry_after`` is the whole seconds until it frees up."""

    status = 429

    def __init__(self, message: str, cap: str, retry_after: float) -> None:
        super().__init__(message, cap)
        self.retry_after = max(1, math.ceil(retry_after))


def lock_tenant(tenant_id: int) -> None:
    """Take the tenant's row lock until the transaction ends, so two requests counting
    against one of its caps count one after the other (neither sees the other's row late)."""
    list(Tenant.objects.select_for_update().filter(pk=tenant_id).values_list("pk"))


def check_count(current: int, most: int, what: str, setting: str) -> None:
    """Raise :class:`OverCap` if a tenant holding ``current`` of ``what`` may not add one."""
    if current >= most:
        message = _("the tenant already has %(count)d %(what)s") % {"count": current, "what": what}
        raise OverCap(message, setting)
