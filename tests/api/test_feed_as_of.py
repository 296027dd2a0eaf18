"""A change-feed cursor "as of" a time: a new reader starts with the changes committed at or
after it, misses none of them, and gets nothing much older; bad times are 400s."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.support.records import wire_trade
from trades.feed.changes import read_changes
from trades.feed.models import ChangeEvent, FeedCommit
from trades.sync.write import write_trades

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/changes/cursor/"


def _write(shop, tids, at) -> None:
    """Commit a change of each tid, then stamp those commits with ``at``."""
    newest = FeedCommit.objects.filter(tenant=shop.tenant).order_by("-id").first()
    for tid in tids:
        write_trades(shop, [wire_trade(tid=tid)])
    later = FeedCommit.objects.filter(tenant=shop.tenant, id__gt=newest.pk if newest else 0)
    later.update(committed_at=at)


def _read_from(client, cursor) -> list[int]:
    answer = client.get("/api/v1/changes/", {"cursor": cursor, "limit": 1000})
    assert answer.status_code == 200
    return [row["key"] for row in answer.json()["results"]]


def test_a_cursor_as_of_a_time_starts_there(owner_client, reader_client, shop_a, shop_b):
    now = timezone.now()
    _write(shop_a, [1, 2], now - timedelta(days=3))
    _write(shop_b, [90], now - timedelta(days=2))  # another tenant's, in between
    _write(shop_a, [3, 4], now - timedelta(days=1))
    _write(shop_a, [5], now - timedelta(hours=1))

    as_of = (now - timedelta(days=2)).isoformat()
    answer = reader_client.get(URL, {"as_of": as_of})
    assert answer.status_code == 200
    assert _read_from(reader_client, answer.json()["cursor"]) == [3, 4, 5]
    # an hour ago: only the last; before everything: all of them; after the last: none,
    # and the cursor is the head, so what comes next is read
    hour = reader_client.get(URL, {"as_of": (now - timedelta(hours=2)).isoformat()}).json()
    assert _read_from(reader_client, hour["cursor"]) == [5]
    start = reader_client.get(URL, {"as_of": "2020-01-01T00:00:00+08:00"}).json()
    assert _read_from(reader_client, start["cursor"]) == [1, 2, 3, 4, 5]
    head = reader_client.get(URL, {"as_of": (now - timedelta(minutes=1)).isoformat()}).json()
    assert _read_from(reader_client, head["cursor"]) == []
    write_trades(shop_a, [wire_trade(tid=6)])
    assert _read_from(reader_client, head["cursor"]) == [6]


def test_a_cursor_as_of_misses_no_change_committed_after(shop_a, owner_client):
    """A transaction that began (and wrote its change) before ``as_of`` but committed after
    it comes: a cursor placed by the changes' own times would skip it."""
    now = timezone.now()
    _write(shop_a, [1], now - timedelta(hours=3))
    _write(shop_a, [2], now - timedelta(hours=1))
    ChangeEvent.objects.filter(key=2).update(created_at=now - timedelta(hours=3))
    cursor = owner_client.get(URL, {"as_of": (now - timedelta(hours=2)).isoformat()}).json()
    events, _ = read_changes(shop_a.tenant, cursor["cursor"], 100)
    assert [e.key for e in events] == [2]


@pytest.mark.parametrize(
    "query,says",
    [
        ({}, "as_of"),
        ({"as_of": "yesterday"}, "as_of"),
        ({"as_of": "2999-01-01T00:00:00+08:00"}, "future"),
        ({"as_of": "2026-11-11T00:00:00+08:00", "shop": "1"}, "shop"),
    ],
)
def test_bad_times_are_400(reader_client, query, says):
    answer = reader_client.get(URL, query)
    assert answer.status_code == 400
    assert says in answer.content.decode()


def test_an_empty_feed_gives_the_start(reader_client, outsider_client, shop_a):
    _write(shop_a, [1], timezone.now() - timedelta(hours=1))
    # the outsider's tenant has no commit: its cursor is the start of its own (empty) feed
    cursor = outsider_client.get(URL, {"as_of": "2020-01-01T00:00:00Z"}).json()["cursor"]
    assert _read_from(outsider_client, cursor) == []
