from django.apps import AppConfig


class OrdersyncConfig(AppConfig):
    name = "ordersync"
