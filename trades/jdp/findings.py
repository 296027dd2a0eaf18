"""Polling stays the truth: what polling or the reconcile wrote for a shop with JDP live,
older than ``JDP_LATE_SECONDS``, is a change the push missed (or had not delivered by then).
Counted per channel that found it on the shop's JDP row (console, ``/metrics``)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from trades.jdp.models import JdpShop
from trades.sync.write import written

COUNTERS = {"polling": "missed_by_polling", "reconcile": "missed_by_reconcile"}


def on_written(sender, shop, entity, changes, channel, **kwargs) -> None:
    counter = COUNTERS.get(channel)
    if counter is None:
        return
    now = timezone.now()
    late = timedelta(seconds=settings.JDP_LATE_SECONDS)
    found = sum(1 for c in changes if c.modified is not None and now - c.modified > late)
    if found:
        JdpShop.objects.filter(shop=shop, status=JdpShop.Status.NORMAL).update(
            **{counter: F(counter) + found}
        )


def connect() -> None:
    written.connect(on_written, dispatch_uid="jdp-findings")
