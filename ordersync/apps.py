from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersyncConfig(AppConfig):
    verbose_name = _("ordersync")
    name = "ordersync"

    def ready(self) -> None:
        # both load models: importable once the apps are
        from django_q.signals import post_spawn

        from ordersync.tasks import beat_when_a_worker_starts

        post_spawn.connect(beat_when_a_worker_starts, dispatch_uid="ordersync-heartbeat")
