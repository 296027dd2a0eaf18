"""Run the local Taobao gateway (the sandbox) until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ordersync.sandbox.scenarios import SCENARIOS
from ordersync.sandbox.server import start_sandbox


class Command(BaseCommand):
    help = "Serve a local TOP gateway at /router/rest with OAuth and a /_sandbox/ control API."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--scenario", choices=sorted(SCENARIOS))
        parser.add_argument(
            "--snapshot", help="load the world from this file if it exists; save it there on exit"
        )

    def handle(
        self, *args: Any, host: str, port: int, seed: int, scenario: str | None, **options: Any
    ) -> None:
        sandbox = start_sandbox(
            host=host, port=port, seed=seed, scenario=scenario, snapshot=options.get("snapshot")
        )
        self.stdout.write(f"Taobao sandbox at {sandbox.url} (seed {seed})")
        self.stdout.write(f"  gateway  {sandbox.gateway_url}")
        self.stdout.write(f"  oauth    {sandbox.url}/authorize  {sandbox.url}/token")
        self.stdout.write(f"  control  {sandbox.url}/_sandbox/")
        if sandbox.scenario:
            info = sandbox.scenario
            self.stdout.write(f"Scenario {info['scenario']}:")
            self.stdout.write(f"  app_key {info['app_key']}  app_secret {info['app_secret']}")
            for seller in info["sellers"]:
                self.stdout.write(
                    f"  seller {seller['nick']}  user_id {seller['user_id']}  "
                    f"session {seller['session']}"
                )
        # SIGTERM stops as Ctrl-C does: with --snapshot, the world is saved first. Both are
        # handled from before the ready line on: a caller may stop the sandbox as soon as it
        # reads that line. SIGINT is handled here too, not left to Python: a process started
        # with it ignored (a background job of a script, a child of one) would never stop on it.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _interrupt)
        saving = ", saving the world" if sandbox.snapshot else ""
        try:
            self.stdout.write(f"Ctrl-C (or SIGTERM) to stop{saving}.")
            self.stdout.flush()
            sandbox.serve_forever()
        except KeyboardInterrupt:  # stopped before serving began
            sandbox.stop()
        if sandbox.snapshot:
            self.stdout.write(f"Saved the world to {sandbox.snapshot}.")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
