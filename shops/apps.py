from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ShopsConfig(AppConfig):
    verbose_name = _("Shops")
    name = "shops"

    def ready(self) -> None:
        import shops.console.one_time  # noqa: F401  (registers its system check)
        from ordersync import observability
        from shops import metrics

        observability.register(metrics.shops, metrics.sync_runs)
