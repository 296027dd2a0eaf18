"""The oracle compares content: a stored record with the platform's status and ``modified``
but other content (a field changed, sub-orders missing as in a peak-mode list entry) is
stale."""

from __future__ import annotations

import pytest

from shops.models import SyncRun
from tests.support.oracle import assert_matches_oracle
from tools.bench.oracle import REFUNDS, TRADES, compare_shop, lost
from trades.models import Refund, Trade
from trades.sync.backfill import backfill_shop

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_record_with_the_right_status_and_modified_but_other_content_is_stale(make_shop, gateway):
    shop = make_shop("content", history_trades=40, history_days=2)
    assert backfill_shop(shop, 2).outcome == SyncRun.Outcome.SUCCEEDED
    assert_matches_oracle(gateway, shop)
    trade = Trade.objects.filter(shop=shop).first()
    trade.payload = {**trade.payload, "receiver_city": "elsewhere"}
    trade.save(update_fields=["payload"])
    other = Trade.objects.filter(shop=shop).exclude(pk=trade.pk).first()
    other.payload = {k: v for k, v in other.payload.items() if k != "orders"}
    other.save(update_fields=["payload"])

    with pytest.raises(AssertionError, match="2 stale by content"):
        assert_matches_oracle(gateway, shop)


def test_a_refund_with_other_content_is_stale(make_shop, gateway):
    shop = make_shop("content-refund", history_trades=60, history_days=4)
    assert backfill_shop(shop, 4).outcome == SyncRun.Outcome.SUCCEEDED
    refund = Refund.objects.filter(shop=shop).first()
    assert refund is not None, "the history made no refund"
    trades, refunds = compare_shop(gateway, shop)
    assert (trades.kind, refunds.kind) == (TRADES.name, REFUNDS.name)
    assert lost([trades, refunds]) == 0 and refunds.checked > 0
    refund.payload = {**refund.payload, "refund_fee": "0.01"}
    refund.save(update_fields=["payload"])

    _, refunds = compare_shop(gateway, shop)
    assert refunds.stale == [refund.refund_id]
