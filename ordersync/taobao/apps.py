from django.apps import AppConfig


class TaobaoConfig(AppConfig):
    """Only the state store of the client (shared limiter, platform clock) is Django."""

    name = "ordersync.taobao"
    label = "taobao"
