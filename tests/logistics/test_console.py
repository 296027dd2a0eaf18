"""The console's stalled parcels: the tenant's own, with age, quiet time and last event; the
owner and a viewer see them, another tenant's owner does not (not even by URL)."""

from __future__ import annotations

import pytest

from tests.logistics.test_tracking import CONSIGN, parcel_of, read

pytestmark = pytest.mark.django_db
LIST = "/admin/trades/stalledparcel/"


def test_stalled_parcels_are_listed_for_their_tenant_only(client, alice, bob, charlie, shop_a):
    stalled = read(parcel_of(shop_a, {"YTO1": (11,)}), 30, CONSIGN)
    for user in (alice, bob):
        client.force_login(user)
        page = client.get(LIST).content.decode()
        assert "YTO1" in page and "2026-11-11 10:00:00 卖家已发货" in page
        assert "not picked up" in page and " d<" in page  # its age, in days
        detail = client.get(f"{LIST}{stalled.pk}/change/")
        assert detail.status_code == 200
    client.force_login(charlie)
    assert "YTO1" not in client.get(LIST).content.decode()
    assert client.get(f"{LIST}{stalled.pk}/change/").status_code == 404


def test_a_parcel_that_moved_leaves_the_list(client, alice, shop_a):
    parcel = parcel_of(shop_a, {"YTO1": (11,)})
    read(parcel, 30, CONSIGN)
    read(parcel, 31, CONSIGN, {**CONSIGN, "status_time": "2026-11-12 16:00:00", "action": "GOT"})
    client.force_login(alice)
    assert "YTO1" not in client.get(LIST).content.decode()
