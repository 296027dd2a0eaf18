from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TaobaoConfig(AppConfig):
    """Only the state store of the client (shared limiter, platform clock, call counts)."""

    verbose_name = _("TOP platform")

    name = "ordersync.taobao"
    label = "taobao"

    def ready(self) -> None:
        from ordersync.taobao import stats

        stats.install()
