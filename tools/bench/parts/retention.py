"""``manage.py bench retention``: pruning a large change feed behind a slow consumer.

Writes ``--changes`` changes into a tenant of its own (``--per-commit`` a transaction), has an
API key read the first ``--read`` share of them, ages them all past the retention age and runs
the feed's pruning in batches of ``--batch``. Prints the rows removed and kept (against what
the consumer had not read), the time, and the longest and median batch: the longest any
pruning statement holds its row locks. Figures, never assertions.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone

from shops.models import Shop, Tenant, TopApp
from trades.api.feed_position import note_read
from trades.api.key_models import ApiKey
from trades.feed.changes import Change, read_changes, record_changes
from trades.feed.models import ChangeEvent
from trades.retention import prune


class Part(BaseCommand):
    help = "Benchmark the retention job's feed pruning behind a slow consumer."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--changes", type=int, default=200_000, help="changes written")
        parser.add_argument("--per-commit", type=int, default=100, help="changes a transaction")
        parser.add_argument("--read", type=float, default=0.5, help="share the consumer read")
        parser.add_argument(
            "--batch", type=int, default=1000, help="RETENTION_BATCH_SIZE (changes a batch)"
        )

    def handle(self, *args, **opts) -> None:
        settings.DEBUG = False
        tag = f"bench-retention-{int(time.time() * 1000)}"
        tenant = Tenant.objects.create(name=tag, slug=tag)
        app = TopApp.objects.create(name=tag, app_key=tag, app_secret="x", calls_per_minute=1)
        shop = Shop.objects.create(
            tenant=tenant, app=app, seller_nick=tag, seller_id=1, session_key="x"
        )
        try:
            self.run(shop, opts)
        finally:
            tenant.delete()
            app.delete()

    def run(self, shop: Shop, opts: dict) -> None:
        written = write(shop, opts["changes"], opts["per_commit"])
        unread = consumer_reads(shop, int(written * opts["read"]))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {ChangeEvent._meta.db_table} SET created_at = now() - interval '400 days'"
                " WHERE tenant_id = %s",
                [shop.tenant_id],
            )
        batches: list[float] = []
        prune.BATCH_OBSERVERS.append(batches.append)
        started = time.monotonic()
        try:
            cutoff = timezone.now() - timedelta(days=30)
            commits = prune.feed_commits(opts["batch"])
            removed = prune.prune_tenant_feed(shop.tenant, cutoff, commits)
        finally:
            prune.BATCH_OBSERVERS.remove(batches.append)
        took = time.monotonic() - started
        kept = ChangeEvent.objects.filter(tenant_id=shop.tenant_id).count()
        self.stdout.write(
            f"{written} changes in {written // opts['per_commit']} commits, the consumer had "
            f"{unread} unread: removed {removed}, kept {kept} ({kept - unread} of them read: "
            f"the commit it stands on); {took:.2f} s, {removed / took:,.0f} changes/s; "
            f"{len(batches)} batches of {prune.feed_commits(opts['batch'])} commits, longest "
            f"{max(batches) * 1000:.0f} ms, median {statistics.median(batches) * 1000:.0f} ms"
        )


def write(shop: Shop, changes: int, per_commit: int) -> int:
    now, key = timezone.now(), 0
    for _ in range(changes // per_commit):
        batch = [
            Change("trade", n, n, "WAIT_BUYER_PAY", None, now) for n in range(key, key + per_commit)
        ]
        with transaction.atomic():
            record_changes(shop, batch)
        key += per_commit
    return key


def consumer_reads(shop: Shop, count: int) -> int:
    """An API key reads the first ``count`` changes; return how many it has not read."""
    key = ApiKey.objects.create(tenant=shop.tenant, name="bench", prefix=shop.tenant.slug[-12:])
    cursor, read = None, 0
    while read < count:
        events, cursor = read_changes(shop.tenant, cursor, min(count - read, 10_000))
        read += len(events)
    note_read(key, cursor or "")
    return ChangeEvent.objects.filter(tenant_id=shop.tenant_id).count() - read
