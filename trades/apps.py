from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TradesConfig(AppConfig):
    verbose_name = _("Trades")
    name = "trades"

    def ready(self) -> None:
        from ordersync import observability
        from trades import metrics
        from trades.feed.changes import follow_changes
        from trades.jdp import findings
        from trades.webhooks import events, outbox

        events.connect()
        findings.connect()
        follow_changes(outbox.append_change_events)
        observability.register(
            metrics.reconcile_reports,
            metrics.presale_reservations,
            metrics.parcels,
            metrics.change_feed,
            metrics.feed_consumers,
            metrics.webhooks,
            metrics.tmc,
            metrics.channels,
        )
