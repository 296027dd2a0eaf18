from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ShopsConfig(AppConfig):
    verbose_name = _("Shops")
    name = "shops"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        import shops.console.one_time  # noqa: F401  (registers its system check)
        from ordersync import observability
        from shops import metrics
        from shops.models import Shop
        from shops.schedules import on_shop_deleted

        post_delete.connect(on_shop_deleted, sender=Shop, dispatch_uid="shops.remove_schedules")
        observability.register(metrics.shops, metrics.sync_runs)
