"""Each API key's place in the change feed: where it stands and how far behind the head,
shown to its tenant (API, console) and on /metrics."""

from __future__ import annotations

import pytest
from django.db import transaction

from tests.api.test_feed import change
from tests.support.api import client_for
from trades.api.key_models import ApiKey
from trades.api.keys import create_api_key
from trades.feed.changes import record_changes

pytestmark = pytest.mark.django_db(transaction=True)


def write_changes(shop, *ids) -> None:
    with transaction.atomic():
        record_changes(shop, [change(i) for i in ids])


def test_a_readers_lag_and_position_follow_its_reads(shop_a, tenant_a, tenant_b, alice, client):
    issued = create_api_key(tenant_a, "ERP", ApiKey.Scope.READ, created_by=alice)
    reader = client_for(issued.token)  # a read key: it reads the feed
    owner = client_for(create_api_key(tenant_a, "admin", ApiKey.Scope.READ_WRITE).token)
    outsider = client_for(create_api_key(tenant_b, "B", ApiKey.Scope.READ_WRITE).token)
    url = f"/api/v1/api-keys/{issued.key.pk}/"
    assert owner.get(url).json()["feed"] == {
        "read_at": None,
        "lag_seconds": None,
        "caught_up": None,
    }
    write_changes(shop_a, 1, 2)
    page = reader.get("/api/v1/changes/", {"limit": 1}).json()
    assert len(page["results"]) == 1 and page["has_more"]
    feed = owner.get(url).json()["feed"]
    assert feed["read_at"] and feed["caught_up"] is False and feed["lag_seconds"] >= 0
    reader.get("/api/v1/changes/", {"cursor": page["next_cursor"]})
    assert owner.get(url).json()["feed"]["caught_up"] is True
    assert outsider.get(url).status_code == 404

    write_changes(shop_a, 3)  # the head moves on; the reader has not read it yet
    client.force_login(alice)
    page = client.get("/admin/trades/apikey/").content.decode()
    assert "s behind" in page
    body = client.get("/metrics").content.decode()
    line = next(x for x in body.splitlines() if x.startswith("ordersync_feed_consumer_lag"))
    assert f'api_key="{issued.key.prefix}"' in line and float(line.split()[-1]) >= 0
