"""The engine against a sandbox that answers as the platform really does: incomplete success
bodies, same-second versions, rows moving across page boundaries, wasted detail calls."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from shops.models import Checkpoint, Shop, SyncRun
from trades.models import Trade
from trades.sync.incremental import sync_shop

pytestmark = pytest.mark.django_db(transaction=True)

INCREMENT = "taobao.trades.sold.increment.get"
FULLINFO = "taobao.trade.fullinfo.get"


def live_shop(make_shop, gateway, nick: str, trades: int) -> Shop:
    """A shop whose cursor stands 10 minutes back, with ``trades`` new trades since then."""
    shop = make_shop(nick)
    cursor = timezone.now() - timedelta(minutes=10)
    Checkpoint.objects.filter(shop=shop).update(cursor=cursor)
    gateway.control("market", {"nick": nick, "burst": trades})
    return shop


def calls(gateway, method: str) -> int:
    return sum(gateway.sandbox.state.calls[method].values())


@pytest.mark.parametrize("part", ["root", "count", "list"])
def test_an_incomplete_success_body_fails_the_window_and_keeps_the_cursor(
    make_shop, gateway, settings, part
):
    settings.SYNC_LAG_SECONDS = 0
    settings.TOP_MAX_ATTEMPTS = 1
    shop = live_shop(make_shop, gateway, f"bodies-{part}", 30)
    before = Checkpoint.objects.get(shop=shop, stream="trades").cursor
    gateway.faults(incomplete_rate=1.0, incomplete_parts=[part], methods=[INCREMENT])
    run = sync_shop(shop, "trades")
    assert run.outcome == SyncRun.Outcome.FAILED and run.error_class == "Transient"
    assert Checkpoint.objects.get(shop=shop, stream="trades").cursor == before
    assert not Trade.objects.filter(shop=shop).exists()
    gateway.faults(incomplete_rate=0.0)
    assert sync_shop(shop, "trades").outcome == SyncRun.Outcome.SUCCEEDED
    assert Trade.objects.filter(shop=shop).count() == len(gateway.oracle_trades(shop.seller_nick))
