"""The change feed under the JDP consumer: a trade the platform changed twice in one second
is two changes; a batch read again after a crash (a new process, the checkpoint not moved)
adds none."""

from __future__ import annotations

import pytest

from ordersync.sandbox import activity
from ordersync.sandbox import jdp as push
from shops.models import Checkpoint
from tests.support.oracle import feed_repeats
from trades.feed.models import ChangeEvent

from .conftest import consume, wait_pushed

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_versions_of_one_second_are_two_changes_and_a_reread_adds_none(
    gateway, enrolled_shop, rds_url
):
    shop = enrolled_shop("tie", history_trades=20)
    wait_pushed(gateway)
    consume(shop)
    gateway.faults(jdp_delay_seconds=3600)  # the rows of this test are pushed by hand
    first, second = created_and_paid_in_one_second(gateway, "tie")
    tid = first.trade.tid
    pushed(rds_url, first, gateway)  # the push wrote the first version, the consumer read it
    consume(shop)
    pushed(rds_url, second, gateway)  # then the second, same modified: settled by fullinfo
    consume(shop)
    fed = events(shop, tid, first.modified)
    assert fed == [first.status, second.status]
    # killed before the checkpoint moved: a new process reads everything again
    Checkpoint.objects.filter(shop=shop).update(cursor=None)
    consume(shop)
    assert not feed_repeats(gateway, shop)
    assert events(shop, tid, first.modified) == fed


def created_and_paid_in_one_second(gateway, nick: str):
    """A new trade changed again in the second it was created (as a buyer paying at once):
    its two versions, of one ``modified``."""
    world = gateway.sandbox.state
    seller = world.sellers[nick]
    with world.lock:
        now = world.now()
        activity.new_trades(world, seller, 1, now)
        trade = seller.by_created[-1]
        activity.change_trade(world, seller, trade, now)
    first, second = trade.versions
    assert first.modified == second.modified and first.data != second.data
    return first, second


def pushed(rds_url: str, version, gateway) -> None:
    """Write ``version`` into the RDS as the push does, stamped now."""
    connection = push.connect(rds_url)
    try:
        push.write_rows(connection, [push.trade_row(version.data, gateway.sandbox.state.now())])
    finally:
        connection.close()


def events(shop, tid: int, modified: int) -> list[str]:
    from datetime import UTC, datetime

    at = datetime.fromtimestamp(modified, UTC)
    rows = ChangeEvent.objects.filter(shop=shop, key=tid, modified=at).order_by("id")
    return list(rows.values_list("status", flat=True))
