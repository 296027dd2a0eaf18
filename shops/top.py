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


def client_for_shop(shop: Shop) -> TopClient:
    return client_for(app_credentials(shop.app), calls_per_minute=shop.app.calls_per_minute)
