"""``manage.py jdp_consume``: the JDP channel's process (docs/jdp.md)."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from trades.jdp import runner


class Command(BaseCommand):
    help = "Write what the Jushita push put in the RDS through the write path, until stopped."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--shop", type=int, action="append", help="only this shop (pk)")
        parser.add_argument("--once", action="store_true", help="one pass, then exit")

    def handle(self, *args, shop=None, once=False, **options) -> None:
        if once:
            connections = runner.Connections()
            try:
                rows = runner.consume_once(connections, shop)
            finally:
                connections.close()
            self.stdout.write(f"JDP: {rows} rows read")
            return
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write("JDP consumer running (Ctrl-C stops it)")
        runner.run(stop, shop)
        self.stdout.write("JDP consumer stopped")
