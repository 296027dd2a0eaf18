"""A client made for an app, or for one of its shops, spends the app's own budget."""

from __future__ import annotations

import pytest

from shops.top import client_for_app, client_for_shop


@pytest.mark.django_db
def test_app_and_shop_clients_have_the_apps_budget(make_shop):
    shop = make_shop("budgeted")
    app = shop.app
    app.calls_per_minute = 120  # below the 1,000 a minute a bare client assumes
    for client in (client_for_app(app), client_for_shop(shop)):
        # 120 a minute: a burst of 6 (one twentieth), then 114 refilled over the minute
        assert client.limiter.budget(app.app_key) == (6.0, 114 / 60)
