from django.apps import AppConfig


class ToolsConfig(AppConfig):
    """The benchmarks and the demo: commands that drive the apps, imported by none of them."""

    name = "tools"
