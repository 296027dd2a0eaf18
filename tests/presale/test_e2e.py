"""End to end with the sandbox: presale trades through every stage, synced round by round,
give exactly their events and the reserved units the sandbox's ground truth has at every step."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from django.utils import timezone

from shops.models import Checkpoint, SyncRun
from tests.support.clock import advance, manual
from trades.feed.models import ChangeEvent
from trades.presale.models import PresaleReservation
from trades.sync.incremental import sync_shop

pytestmark = pytest.mark.django_db(transaction=True)

# the events each stage a trade reached stands for (the sandbox's words, not the code's)
STAGE_EVENTS = {
    "FRONT_PAID_FINAL_NOPAID": "trade.presale_deposit_paid",
    "FRONT_PAID_FINAL_PAID": "trade.presale_final_paid",
    "FRONT_PAID_FRONT_FORFEITED": "trade.presale_forfeited",
}


def ours(shop, stage: str) -> dict[str, int]:
    rows = PresaleReservation.objects.filter(shop=shop, stage=stage)
    return {row.sku_id: row.units for row in rows if row.units}


def our_events(shop) -> dict[int, list[str]]:
    events = defaultdict(list)
    changes = ChangeEvent.objects.filter(shop=shop).exclude(signals=[]).order_by("id")
    for key, signals in changes.values_list("key", "signals"):
        events[key] += signals
    return dict(events)


def expected_events(truth: dict) -> dict[int, list[str]]:
    expected = {}
    for trade in truth["trades"]:
        events = [STAGE_EVENTS[s] for s in trade["stages"] if s in STAGE_EVENTS]
        if events:
            expected[trade["tid"]] = events
    return expected


def test_presale_stages_events_and_reserved_units_match_the_sandbox(make_shop, gateway, settings):
    settings.SYNC_LAG_SECONDS = 1
    shop = make_shop("presale-e2e")
    manual(gateway)
    Checkpoint.objects.filter(shop=shop).update(cursor=timezone.now() - timedelta(minutes=1))
    gateway.control("market", {"nick": "presale-e2e", "presale_share": 1.0, "burst": 60})
    reached = Counter()
    for round_ in range(9):
        if round_:
            gateway.control("market", {"nick": "presale-e2e", "changes": 40})
        advance(gateway, settings.SYNC_LAG_SECONDS + 1.1)
        assert sync_shop(shop, "trades").outcome == SyncRun.Outcome.SUCCEEDED
        truth = gateway.control("oracle/presale?nick=presale-e2e")
        assert ours(shop, "deposit_paid") == truth["reserved"], f"round {round_}"
        assert ours(shop, "deposit_unpaid") == truth["pending"], f"round {round_}"
        assert our_events(shop) == expected_events(truth), f"round {round_}"
        reached.update(s for t in truth["trades"] for s in t["stages"][-1:])
    # the run went through every stage, forfeits included, and held stock on the way
    assert set(reached) >= {*STAGE_EVENTS, "FRONT_NOPAID_FINAL_NOPAID"}, reached
