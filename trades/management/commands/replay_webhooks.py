"""``manage.py replay_webhooks ENDPOINT --since … [--until …] [--tids …]``."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shops.caps import OverCap
from shops.refetch import BadRefetch, parse_tids, parse_time
from trades.webhooks.models import WebhookEndpoint, WebhookReplay
from trades.webhooks.replay import InvalidReplay, deliveries_by_state, request_replay, run_replay


class Command(BaseCommand):
    help = (
        "Re-emit the changes committed in a time range (or those of some trades) as events "
        "marked as a replay, to one webhook endpoint only. Emits in the foreground, a page "
        "at a time as the queue has room; the workers deliver them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("endpoint", type=int, help="the endpoint's id")
        parser.add_argument("--since", help="commit time, inclusive (ISO 8601; platform time)")
        parser.add_argument("--until", help="commit time, exclusive (default: now)")
        parser.add_argument("--tids", nargs="+", help="only these trades' changes (at most 100)")

    def handle(self, *args: str, **opts: Any) -> None:
        endpoint = WebhookEndpoint.objects.filter(pk=opts["endpoint"]).first()
        if endpoint is None:
            raise CommandError(f"no webhook endpoint {opts['endpoint']}")
        try:
            replay = request_replay(endpoint, **self._wanted(opts), requested_by="command")
        except (BadRefetch, InvalidReplay, OverCap) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"replay {replay.pk}: {replay.changes_total} changes to {endpoint.url}")
        while not (done := run_replay(replay.pk, seconds=10)):
            if done is None:  # a worker has it: follow its progress
                time.sleep(5)
            self._progress(replay.pk)
        self._progress(replay.pk)

    def _wanted(self, opts: dict[str, Any]) -> dict[str, Any]:
        return {
            "since": parse_time(opts["since"], "since") if opts["since"] else None,
            "until": parse_time(opts["until"], "until") if opts["until"] else None,
            "tids": parse_tids(" ".join(opts["tids"])) if opts["tids"] else [],
        }

    def _progress(self, replay_id: int) -> None:
        replay = WebhookReplay.objects.get(pk=replay_id)
        deliveries = deliveries_by_state([replay_id])[replay_id]
        self.stdout.write(
            f"replay {replay.pk} {replay.state}: {replay.changes_done} of "
            f"{replay.changes_total} changes, {replay.emitted} events; deliveries {deliveries}"
            + (f"; {replay.error}" if replay.error else "")
        )
