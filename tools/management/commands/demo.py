"""Run the whole service on this machine: embedded PostgreSQL, a local Taobao sandbox with
two tenants and four shops, the workers, the TMC consumer and the web server."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ordersync.embedded_db import forget_dead_handles
from shops.models import Shop, Tenant
from tools.bench.sandbox import free_port
from tools.demo import world
from tools.demo.children import STOP_SECONDS, Children, wait_for_http
from tools.demo.status import backfill_lines, running_jobs, status_line
from tools.demo.terminal import allow_loopback_webhooks, log_to_file, stop_on_signals
from trades.api.keys import create_api_key
from trades.replenish.suggest import refresh_replenishment
from trades.sync.runs import request_pause

# Workers first (they finish their task and stop calling), then the TMC consumer (it
# confirms its pull), then web, then the sandbox, which saves its world and must outlive
# everything that talks to it.
STOP_ORDER = ("qcluster", "tmc", "web", "sandbox")
GUNICORN_CONF = "ordersync/gunicorn.conf.py"
PIPED_BARS = 5.0  # seconds between the backfill bars written to a pipe or file


class Command(BaseCommand):
    help = (
        "Run ordersync with a local sandbox: migrate, onboard demo shops, workers, TMC "
        "consumer and web."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="web port (0: any free)")
        parser.add_argument("--sandbox-port", type=int, default=8100, help="0: any free")
        parser.add_argument(
            "--exit-after-backfill", action="store_true", help="stop once the backfills are done"
        )
        parser.add_argument(
            "--new-sandbox",
            action="store_true",
            help="build a new sandbox world when the saved one is missing",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        data = settings.ORDERSYNC_DATA_DIR
        (data / "logs").mkdir(parents=True, exist_ok=True)
        # This process's own log lines (django-q2's "Enqueued …") would cut into the banner.
        log_to_file(data / "logs" / "demo.log")
        os.environ.setdefault("SYNC_LAG_SECONDS", "30")  # the sandbox's index lags 20 s
        os.environ.setdefault("Q_WORKERS", "4")  # the four shops backfill at once
        # the console opens in Chinese, its users' language; the switch offers English
        os.environ.setdefault("LANGUAGE_CODE", "zh-hans")
        self.loopback = allow_loopback_webhooks()
        web_port = opts["port"] or free_port()
        sandbox_port = opts["sandbox_port"] or free_port()
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        snapshot = data / "sandbox-world.pickle"
        children = Children(data / "logs")
        stop_on_signals()
        try:
            self.stdout.write("Migrating the database …")
            call_command("migrate", verbosity=0)
            request_pause(False)  # a demo that died while stopping left it asked
            self.check_snapshot(snapshot, opts["new_sandbox"])
            # web needs neither the sandbox nor the shops: it starts while they are set up
            self.start_web(children, web_port)
            self.start_sandbox(children, sandbox_port, snapshot)
            shops, creds, new_key = self.setup(sandbox_url)
            self.start_service(children, shops, web_port)
            self.show_where(web_port, sandbox_url, creds, new_key)
            self.show_backfills(children, shops)
            self.show_replenishment(shops, web_port)
            if opts["exit_after_backfill"]:
                self.stdout.write("Backfills done.")
                return
            self.stdout.write("Ctrl-C stops everything.")
            while True:
                children.check()
                self.stdout.write(status_line(shops))
                time.sleep(10)
        except KeyboardInterrupt as interrupt:
            self.stdout.write(f"\n{str(interrupt) or 'Ctrl-C'}: stopping …")
        finally:
            self.stop(children)

    def stop(self, children: Children) -> None:
        if not children.children:
            return
        # a second Ctrl-C would leave children running: each gets a bounded time anyway
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        self.stdout.write(f"Stopping the children in turn (each at most {STOP_SECONDS:.0f} s):")
        request_pause(True)  # a backfill in hand ends after its slice, not after minutes
        try:
            stopped = children.stop(order=STOP_ORDER, say=self.stdout.write)
        finally:
            request_pause(False)
        if children.killed and settings.EMBEDDED_DATABASE:
            # killed, they could not leave the embedded server's list of its users
            forget_dead_handles(settings.ORDERSYNC_DATA_DIR / "postgres")
        if "qcluster" in children.killed:
            self.stdout.write(
                "Nothing is lost: every finished backfill slice and window is recorded, and the "
                "runs the workers held resume where they stopped at the next start."
            )
        self.stdout.write(
            f"Stopped {', then '.join(stopped)}. "
            "Run `manage.py demo` again to resume with the same data."
        )

    def check_snapshot(self, snapshot: Path, new_sandbox: bool) -> None:
        """The service's data belongs to the sandbox world saved at the last stop: without
        it, a new world would not hold the trades and sessions the database knows."""
        if snapshot.exists() or not world.has_service():
            return
        if not new_sandbox:
            raise CommandError(
                f"The sandbox's saved world ({snapshot}) is missing, but the database holds "
                "the demo's shops and trades from it (was the last demo killed?). Run "
                "`manage.py demo --new-sandbox` to build a new world (the shops get new "
                "sessions; the trades already stored stay), or start afresh with an empty "
                "ORDERSYNC_DATA_DIR."
            )
        self.stdout.write(f"The sandbox's saved world ({snapshot}) is missing: building a new one.")

    def start_sandbox(self, children: Children, sandbox_port: int, snapshot: Path) -> None:
        children.manage(
            "sandbox",
            *("taobao_sandbox", "--port", str(sandbox_port), "--seed", "42"),
            *("--snapshot", str(snapshot)),
            stop_signal=signal.SIGINT,
            waits_for=lambda: f"saving its world to {snapshot}",
        )
        wait_for_http(f"http://127.0.0.1:{sandbox_port}/_sandbox/time")

    def start_web(self, children: Children, web_port: int) -> None:
        os.environ["GUNICORN_BIND"] = f"127.0.0.1:{web_port}"
        os.environ.setdefault("WEB_CONCURRENCY", "2")
        children.start(
            "web",
            [sys.executable, "-m", "gunicorn", "-c", GUNICORN_CONF, "ordersync.wsgi"],
            waits_for=lambda: "it answers the requests in hand",
        )

    def start_service(self, children: Children, shops: list[Shop], web_port: int) -> None:
        """The workers (after the backfills to resume are queued) and the TMC consumer; then
        wait for web, started earlier, to answer."""
        children.manage("qcluster", "qcluster", waits_for=lambda: running_jobs(shops))
        children.manage(
            "tmc", "tmc_consume", waits_for=lambda: "it writes and confirms its current pull"
        )
        wait_for_http(f"http://127.0.0.1:{web_port}/healthz")

    def setup(self, sandbox_url: str) -> tuple[list[Shop], world.Credentials, bool]:
        control = world.SandboxControl(sandbox_url)
        first_nick = world.TENANTS[0][2][0][0]
        control.set_app()
        sellers = {}
        if not control.has_seller(first_nick):
            self.stdout.write("Building the sandbox: 4 sellers with 90 days of history …")
            sellers = world.build_sandbox(control)
        shops = world.build_service(f"{sandbox_url}/router/rest", sellers)
        world.resume_backfills(shops)

        def make_api_key() -> str:
            acme = Tenant.objects.get(slug="acme")
            return create_api_key(acme, "demo partner", "read_write").token

        creds, new_key = world.Credentials.load_or_create(
            settings.ORDERSYNC_DATA_DIR / "demo-credentials.json", make_api_key
        )
        world.ensure_users(creds)
        return shops, creds, new_key

    def show_backfills(self, children: Children, shops: list[Shop]) -> None:
        self.stdout.write("Backfilling (the workers pull 90 days of every shop) …")
        tty = sys.stdout.isatty()
        last, shown_at = "", float("-inf")
        while True:
            children.check()
            lines, finished = backfill_lines(shops)
            text = "\n".join(lines)
            if tty:
                self.stdout.write(text + (f"\033[{len(lines)}F" if not finished else ""))
            elif text != last and (finished or time.monotonic() - shown_at >= PIPED_BARS):
                # a log gets the bars every few seconds, and the finish as soon as it comes
                self.stdout.write(text)
                last, shown_at = text, time.monotonic()
            if finished:
                return
            time.sleep(1)

    def show_replenishment(self, shops: list[Shop], web_port: int) -> None:
        """Items and stock of every shop, then its purchase suggestions (the daily schedule
        recomputes them from here on)."""
        self.stdout.write("Reading items and stock, computing purchase suggestions …")
        total = sum(refresh_replenishment(shop) for shop in shops)
        web = f"http://127.0.0.1:{web_port}"
        self.stdout.write(
            f"Purchase suggestions: {total} SKUs — {web}/admin/trades/suggestion/ , "
            f"{web}/api/v1/replenishment/ (and csv/)"
        )

    def show_where(
        self, web_port: int, sandbox_url: str, creds: world.Credentials, new_key: bool
    ) -> None:
        web = f"http://127.0.0.1:{web_port}"
        w = self.stdout.write
        w("ordersync is running:")
        w(f"  admin      {web}/admin/   superuser admin / {creds.admin_password}")
        w(f"                              tenant admin acme-admin / {creds.tenant_admin_password}")
        w(f"  API docs   {web}/api/docs/")
        w(
            f"  API key    {creds.api_key}"
            + ("  (new: shown here, kept in the data dir)" if new_key else "")
        )
        w(f"  try        curl -H 'Authorization: Bearer {creds.api_key}' {web}/api/v1/trades/")
        w(f"  metrics    {web}/metrics      health {web}/healthz")
        w(f"  webhooks   {self.loopback}")
        w(f"  sandbox    {sandbox_url}/_sandbox/stats")
        w(f"  logs       {settings.ORDERSYNC_DATA_DIR / 'logs'}")
        w("")
