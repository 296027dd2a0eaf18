from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersyncConfig(AppConfig):
    verbose_name = _("ordersync")
    name = "ordersync"
