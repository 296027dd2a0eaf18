"""Presale stage transitions are events of their own, in the feed and the outbox, once each."""

from __future__ import annotations

import pytest

from tests.support.records import presale
from trades.feed.models import ChangeEvent
from trades.sync.write import write_trades
from trades.webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


def events() -> list[str]:
    return list(WebhookEvent.objects.order_by("id").values_list("type", flat=True))


def presale_events() -> list[str]:
    return [e for e in events() if "presale" in e]


def test_every_stage_is_one_event_beside_the_update(shop_a, endpoint):
    write_trades(shop_a, [presale()])
    write_trades(shop_a, [presale(stage="FRONT_PAID_FINAL_NOPAID", minute=1)])
    write_trades(shop_a, [presale(stage="FRONT_PAID_FINAL_NOPAID", minute=2)])  # a note
    write_trades(
        shop_a,
        [presale(stage="FRONT_PAID_FINAL_PAID", status="WAIT_SELLER_SEND_GOODS", minute=3)],
    )
    assert events() == [
        "trade.created",
        "trade.updated",
        "trade.presale_deposit_paid",
        "trade.updated",
        "trade.updated",
        "trade.status_changed",
        "trade.presale_final_paid",
    ]
    signals = ChangeEvent.objects.order_by("id").values_list("signals", flat=True)
    assert list(signals) == [[], ["trade.presale_deposit_paid"], [], ["trade.presale_final_paid"]]


def test_forfeit(shop_a, endpoint):
    write_trades(shop_a, [presale(stage="FRONT_PAID_FINAL_NOPAID")])
    closed = presale(stage="FRONT_PAID_FRONT_FORFEITED", status="TRADE_CLOSED_BY_TAOBAO", minute=5)
    write_trades(shop_a, [closed])
    assert presale_events() == ["trade.presale_deposit_paid", "trade.presale_forfeited"]
    forfeited = WebhookEvent.objects.get(type="trade.presale_forfeited")
    assert forfeited.data["tid"] == 1 and forfeited.data["status"] == "TRADE_CLOSED_BY_TAOBAO"


def test_re_reads_and_older_versions_repeat_nothing(shop_a, endpoint):
    paid = presale(stage="FRONT_PAID_FINAL_NOPAID", minute=1)
    write_trades(shop_a, [paid])
    write_trades(shop_a, [paid])  # the same version again (a restart re-reads its window)
    write_trades(shop_a, [presale(minute=0)])  # an older version arriving late
    write_trades(shop_a, [paid], current=True)  # from the detail API, same content
    assert presale_events() == ["trade.presale_deposit_paid"]


def test_a_skipped_version_still_yields_the_deposit_first(shop_a, endpoint):
    write_trades(shop_a, [presale()])
    write_trades(shop_a, [presale(stage="FRONT_PAID_FINAL_PAID", minute=9)])
    assert presale_events() == ["trade.presale_deposit_paid", "trade.presale_final_paid"]


def test_other_trade_types_never_have_presale_events(shop_a, endpoint):
    fixed = {**presale(stage="FRONT_PAID_FINAL_NOPAID"), "type": "fixed"}
    write_trades(shop_a, [fixed])
    assert presale_events() == []
