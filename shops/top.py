"""The TOP client of a shop: its app's credentials, the shared limiter and platform clock."""

from __future__ import annotations

from ordersync.taobao.client import AppCredentials, TopClient
from ordersync.taobao.store import client_for
from shops.models import Shop, TopApp


def app_credentials(app: TopApp) -> AppCredentials:
    return AppCredentials(
        app_key=app.app_key,
        app_secret=app.app_secret,
        gateway_url=app.gateway_url,
        sign_method=app.sign_method,
        token_url=app.token_url,
    )


def shop_key(shop: Shop) -> str:
    """The name the shared limiter knows a shop by (its fairness is between these)."""
    return f"shop-{shop.pk}"


def client_for_app(app: TopApp) -> TopClient:
    """A new client of ``app`` on the app's own budget in the shared limiter (``client_for``
    alone assumes 1,000 calls a minute, more than many apps are given)."""
    return client_for(app_credentials(app), calls_per_minute=app.calls_per_minute)


def client_for_shop(shop: Shop, client: TopClient | None = None) -> TopClient:
    """A client whose every call counts against ``shop`` in the app's shared budget.

    ``client`` (any client of the shop's app, e.g. one app-wide client shared by many
    shops) is bound to the shop; without one, a new client is made.
    """
    if client is None:
        client = client_for_app(shop.app)
    return client.for_shop(shop_key(shop))
