"""Polling stays the truth: is JDP trustworthy? Judged by platform times only.

While JDP is live for a shop, every version polling or the reconcile stores first (the row
held an older one: JDP had not delivered it) becomes a :class:`JdpFinding`, pending. When
the consumer later reads a row of that record with the same ``modified`` or a newer one
(the push skips states overwritten before it ran), the finding is settled by the row's
``jdp_modified`` against the version's ``modified``, both platform times: within
``JDP_LATE_SECONDS`` in time, beyond it late. A finding still pending when the platform time
a whole consumer pass started at, less ``JDP_OVERLAP_SECONDS`` (rows may be stamped that far
in the past), is past its ``modified`` + ``JDP_LATE_SECONDS`` is missed: whatever the push
still delivers would be late. A missed finding JDP delivers after all turns late.

Counted per channel that found it (console, ``/metrics``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count

from trades.jdp.models import JdpFinding, JdpShop
from trades.sync.write import written

CHANNELS = ("polling", "reconcile")
# keys → (modified, jdp_modified) of the rows the RDS holds for them
Pushed = Callable[[list[int]], dict[int, tuple[datetime, datetime]]]
OPEN = (JdpFinding.Outcome.PENDING, JdpFinding.Outcome.MISSED)


def _late() -> timedelta:
    return timedelta(seconds=settings.JDP_LATE_SECONDS)


def on_written(sender, shop, entity, changes, channel, **kwargs) -> None:
    """Polling or the reconcile wrote ``changes`` first: a pending finding each while JDP
    is live (versions from before the enrolment are the history push's, not findings)."""
    if channel not in CHANNELS:
        return
    state = JdpShop.objects.filter(shop=shop, status=JdpShop.Status.NORMAL).first()
    if state is None:
        return
    found = [
        JdpFinding(shop=shop, entity=entity, key=c.key, modified=c.modified, channel=channel)
        for c in changes
        if state.since_enrolment(c.modified)
    ]
    JdpFinding.objects.bulk_create(found, ignore_conflicts=True)


def delivered(shop, entity: str, versions: list[tuple[int, datetime, datetime]]) -> int:
    """JDP delivered ``versions`` = (key, modified, jdp_modified): settle the open findings
    they cover (same record, ``modified`` at most theirs); return how many."""
    newest: dict[int, tuple[datetime, datetime]] = {}
    for key, modified, stamp in versions:
        if key not in newest or modified > newest[key][0]:
            newest[key] = (modified, stamp)
    open_ = JdpFinding.objects.filter(
        shop=shop, entity=entity, key__in=list(newest), outcome__in=OPEN
    )
    settled = 0
    for finding in open_:
        modified, stamp = newest[finding.key]
        if finding.modified <= modified:
            _settle(finding, stamp)
            settled += 1
    return settled


def _settle(finding: JdpFinding, stamp: datetime) -> None:
    late = stamp - finding.modified > _late()
    finding.outcome = JdpFinding.Outcome.LATE if late else JdpFinding.Outcome.IN_TIME
    finding.delivered = stamp
    finding.save(update_fields=["outcome", "delivered"])


def sweep(shop, entity: str, pass_started: datetime, pushed: Pushed) -> int:
    """A whole pass over ``entity``'s tables started at platform time ``pass_started``:
    the pending findings past their deadline by then are missed, unless the RDS holds the
    version or a newer one after all (polling stored it just as the consumer read it: the
    finding came after the delivery), which settles them; return how many were missed."""
    read_to = pass_started - timedelta(seconds=settings.JDP_OVERLAP_SECONDS)
    due = list(
        JdpFinding.objects.filter(
            shop=shop,
            entity=entity,
            outcome=JdpFinding.Outcome.PENDING,
            modified__lt=read_to - _late(),
        )
    )
    rows = pushed(sorted({finding.key for finding in due})) if due else {}
    missed = []
    for finding in due:
        modified, stamp = rows.get(finding.key, (None, None))
        if modified is not None and stamp is not None and modified >= finding.modified:
            _settle(finding, stamp)
        else:
            missed.append(finding.pk)
    return JdpFinding.objects.filter(pk__in=missed).update(outcome=JdpFinding.Outcome.MISSED)


def counts(shop_ids: list[int]) -> dict[int, Counter]:
    """Per shop: (channel, outcome) → findings."""
    rows = (
        JdpFinding.objects.filter(shop_id__in=shop_ids)
        .values("shop_id", "channel", "outcome")
        .annotate(n=Count("id"))
    )
    out: dict[int, Counter] = {shop_id: Counter() for shop_id in shop_ids}
    for row in rows:
        out[row["shop_id"]][(row["channel"], row["outcome"])] = row["n"]
    return out


def connect() -> None:
    written.connect(on_written, dispatch_uid="jdp-findings")
