from django.apps import AppConfig


class TaobaoConfig(AppConfig):
    """Only the state store of the client (shared limiter, platform clock, call counts)."""

    name = "ordersync.taobao"
    label = "taobao"

    def ready(self) -> None:
        from ordersync.taobao import stats

        stats.install()
