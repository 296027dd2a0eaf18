"""Run the TMC consumers: a long-lived process beside ``qcluster`` (see docs/tmc.md)."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from shops.models import TopApp
from trades.tmc.consumer import Consumer
from trades.tmc.permits import check_group

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Pull TMC messages of one app (or of every app, one thread each) until SIGTERM/SIGINT; "
        "each pull is written and confirmed before the process stops."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--app", action="append", help="app key (repeatable); default: all")
        parser.add_argument("--group", default=None, help="TMC group (default: TMC_GROUP)")

    def handle(self, *args: Any, **opts: Any) -> None:
        chosen = TopApp.objects.all()
        if opts["app"]:
            chosen = chosen.filter(app_key__in=opts["app"])
        apps = list(chosen)
        if not apps:
            raise CommandError("no app to consume for (add one with add_app, or check --app)")
        try:
            check_group(opts["group"] or settings.TMC_GROUP)
        except ValueError as error:
            raise CommandError(str(error)) from None
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            log.info("TMC consumer: signal %s, finishing the current pull", signum)
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        threads = [
            threading.Thread(
                target=_consume, args=(app, opts["group"], stop), name=f"tmc-{app.app_key}"
            )
            for app in apps
        ]
        for thread in threads:
            thread.start()
        self.stdout.write(
            f"TMC consumer running for {', '.join(a.app_key for a in apps)}", ending="\n"
        )
        self.stdout.flush()
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(0.5)
        self.stdout.write("TMC consumer stopped")


def _consume(app: TopApp, group: str | None, stop: threading.Event) -> None:
    try:
        Consumer(app, group=group).run(stop)
    finally:
        connection.close()
