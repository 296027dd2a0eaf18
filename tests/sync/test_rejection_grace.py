"""The during-run check of the chaos proofs (``assert_current_within``) is fair to an engine
the platform refuses: the seconds a trade-service rejection refuses the shop's searches do
not count against a trade's grace, whether the trade became visible during the spell or just
before it, when the engine's windows (which trail ``now`` by their lag) could not list it yet.
Outside the spells the check still finds an engine that lists nothing."""

from __future__ import annotations

import pytest

from shops.models import Checkpoint, SyncRun
from tests.support.clock import advance, manual
from tests.support.oracle import assert_current_within
from trades.models import Trade
from trades.sync.incremental import sync_shop

pytestmark = pytest.mark.django_db(transaction=True)

LAG, GRACE = 3, 10
SPELL = 20  # seconds the platform refuses the shop's searches after a rejection


def new_trade(gateway, shop) -> int:
    """One new trade, visible to the lists at once; its tid."""
    before = set(gateway.oracle_trades(shop.seller_nick))
    gateway.control("market", {"nick": shop.seller_nick, "burst": 1})
    (tid,) = set(gateway.oracle_trades(shop.seller_nick)) - before
    return tid


def trades_round(shop) -> SyncRun:
    run = sync_shop(shop, "trades")
    # the chaos proofs' rounds are their schedule: the back-off is lifted after each
    Checkpoint.objects.filter(shop=shop).update(next_run_at=None)
    return run


def test_the_seconds_a_rejection_refuses_searches_do_not_count_against_the_grace(
    make_shop, gateway, settings
):
    settings.SYNC_LAG_SECONDS = LAG
    settings.SYNC_OVERLAP_SECONDS = 4
    manual(gateway)
    gateway.faults(lag_seconds=0, rejection_seconds=SPELL)
    shop = make_shop("refused")
    trades_round(shop)  # the cursor
    tid = new_trade(gateway, shop)
    advance(gateway, 1)  # visible, but not yet behind the windows' lag
    gateway.faults(rejection_rate=1.0)
    refused = trades_round(shop)  # the spell begins before any window could list it
    gateway.faults(rejection_rate=0.0)
    assert refused.error_class == "TradeServiceRejected"

    advance(gateway, GRACE + 5)  # past the grace on the wall, all of it inside the spell
    assert trades_round(shop).error_class == "TradeServiceRejected"  # still refused
    assert not Trade.objects.filter(shop=shop, tid=tid).exists()
    assert_current_within(gateway, shop, LAG, GRACE)  # not due: the platform refused it

    advance(gateway, SPELL)  # the spell is over
    assert trades_round(shop).outcome == SyncRun.Outcome.SUCCEEDED
    assert Trade.objects.filter(shop=shop, tid=tid).exists()
    assert assert_current_within(gateway, shop, LAG, GRACE) >= 1

    # outside a spell an engine that lists nothing is still found out
    late = new_trade(gateway, shop)
    advance(gateway, LAG + GRACE + 1)
    with pytest.raises(AssertionError, match=rf"trades: 1 missing.*{late} missing"):
        assert_current_within(gateway, shop, LAG, GRACE)
