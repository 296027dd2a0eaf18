from django.apps import AppConfig


class ShopsConfig(AppConfig):
    name = "shops"

    def ready(self) -> None:
        from shops import schedules  # noqa: F401  (removes a deleted shop's schedules)
