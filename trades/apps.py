from django.apps import AppConfig


class TradesConfig(AppConfig):
    name = "trades"

    def ready(self) -> None:
        from trades.jdp import findings
        from trades.webhooks import events

        events.connect()
        findings.connect()
