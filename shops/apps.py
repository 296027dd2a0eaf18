from django.apps import AppConfig


class ShopsConfig(AppConfig):
    name = "shops"

    def ready(self) -> None:
        import shops.console.one_time  # noqa: F401  (registers its system check)
        from ordersync import observability
        from shops import metrics

        observability.register(metrics.shops, metrics.sync_runs)
