"""Run the whole service on this machine: embedded PostgreSQL, a local Taobao sandbox with
two tenants and four shops, the workers and the web server."""

from __future__ import annotations

import os
import signal
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from shops.models import Tenant
from tools.bench.sandbox import free_port
from tools.demo import world
from tools.demo.children import Children, wait_for_http
from tools.demo.status import backfill_lines, status_line
from trades.api.keys import create_api_key

# Workers first (they finish their task and stop calling), then web, then the sandbox, which
# saves its world and must outlive everything that talks to it.
STOP_ORDER = ("qcluster", "web", "sandbox")


class Command(BaseCommand):
    help = "Run ordersync with a local sandbox: migrate, onboard demo shops, workers and web."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="web port (0: any free)")
        parser.add_argument("--sandbox-port", type=int, default=8100, help="0: any free")
        parser.add_argument(
            "--exit-after-backfill", action="store_true", help="stop once the backfills are done"
        )

    def handle(self, *args, **opts):
        data = settings.ORDERSYNC_DATA_DIR
        (data / "logs").mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("SYNC_LAG_SECONDS", "30")  # the sandbox's index lags 20 s
        os.environ.setdefault("Q_WORKERS", "2")
        web_port = opts["port"] or free_port()
        sandbox_port = opts["sandbox_port"] or free_port()
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"

        self.stdout.write("Migrating the database …")
        call_command("migrate", verbosity=0)
        children = Children(data / "logs")
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            self.start(children, sandbox_port, web_port, sandbox_url)
            shops, creds, new_key = self.setup(sandbox_url)
            self.show_where(web_port, sandbox_url, creds, new_key)
            self.show_backfills(children, shops)
            if opts["exit_after_backfill"]:
                self.stdout.write("Backfills done.")
                return
            self.stdout.write("Ctrl-C stops everything.")
            while True:
                children.check()
                self.stdout.write(status_line(shops))
                time.sleep(10)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping …")
        finally:
            stopped = children.stop(order=STOP_ORDER)
            self.stdout.write(
                f"Stopped {', then '.join(stopped)}. "
                "Run `manage.py demo` again to resume with the same data."
            )

    def start(self, children: Children, sandbox_port: int, web_port: int, url: str) -> None:
        snapshot = settings.ORDERSYNC_DATA_DIR / "sandbox-world.pickle"
        children.manage(
            "sandbox",
            "taobao_sandbox",
            "--port",
            str(sandbox_port),
            "--seed",
            "42",
            "--snapshot",
            str(snapshot),
            stop_signal=signal.SIGINT,
        )
        wait_for_http(f"{url}/_sandbox/time")
        children.manage("qcluster", "qcluster")
        os.environ["GUNICORN_BIND"] = f"127.0.0.1:{web_port}"
        os.environ.setdefault("WEB_CONCURRENCY", "2")
        children.start(
            "web",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "ordersync/gunicorn.conf.py",
                "ordersync.wsgi",
            ],
        )
        wait_for_http(f"http://127.0.0.1:{web_port}/healthz")

    def setup(self, sandbox_url: str):
        control = world.SandboxControl(sandbox_url)
        first_nick = world.TENANTS[0][2][0][0]
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

    def show_backfills(self, children: Children, shops) -> None:
        self.stdout.write("Backfilling (the workers pull 90 days of every shop) …")
        tty = sys.stdout.isatty()
        last = ""
        while True:
            children.check()
            lines, finished = backfill_lines(shops)
            text = "\n".join(lines)
            if tty:
                self.stdout.write(text + (f"\033[{len(lines)}F" if not finished else ""))
            elif text != last:
                self.stdout.write(text)
            last = text
            if finished:
                return
            time.sleep(1 if tty else 5)

    def show_where(self, web_port: int, sandbox_url: str, creds, new_key: bool) -> None:
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
        w(f"             curl -H 'Authorization: Bearer {creds.api_key}' {web}/api/v1/trades")
        w(f"  metrics    {web}/metrics      health {web}/healthz")
        w(f"  sandbox    {sandbox_url}/_sandbox/stats")
        w(f"  logs       {settings.ORDERSYNC_DATA_DIR / 'logs'}")
        w("")
