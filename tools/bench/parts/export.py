"""Bulk export at scale: a tenant of ``--trades`` trades (1,000,000 by default, ``--lines``
sub-orders each) streamed through the export's own response (what gunicorn iterates), in each
``--formats``; beside it, the same rows through ``psql``'s ``COPY … TO STDOUT``: what
PostgreSQL alone can hand out, the limit.

Figures: rows per second and MB per second; peak RSS of this process while it streams
(sampled every 50 ms; its start for comparison); and, in a second pass (slower: tracemalloc
traces every allocation), the peak of Python memory, printed as each tenth of the export is
sent, so a flat line shows memory does not grow with the export. The limit comes first.
pyarrow's buffers are outside tracemalloc: for Parquet the RSS is the figure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterable

import psutil
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from shops.models import Shop, Tenant, TopApp
from trades import exports
from trades.models import Trade, TradeLine

MB = 1024 * 1024

_TRADES_SQL = f"""
    INSERT INTO {Trade._meta.db_table}
        (tenant_id, shop_id, tid, status, type, created, modified, payment, total_fee, post_fee,
         buyer_open_uid, buyer_nick, receiver_state, receiver_city, receiver_district,
         step_trade_status, payload, first_synced_at, last_synced_at, pay_time)
    SELECT %(tenant)s, %(shop)s, 4000000000000000000 + n, 'TRADE_FINISHED', 'fixed',
           timestamptz '2026-11-01 00:00:00+08' + make_interval(secs => n / 10),
           timestamptz '2026-11-01 00:00:00+08' + make_interval(secs => n / 3),
           (n %% 997) + 0.5, (n %% 997) + 10.5, 0, 'AAE' || n, 'buyer' || n, '浙江省', '杭州市',
           '西湖区', '', '{{}}', now(), now(),
           timestamptz '2026-11-01 00:00:05+08' + make_interval(secs => n / 10)
    FROM generate_series(%(first)s, %(last)s) AS n
"""
_LINES_SQL = f"""
    INSERT INTO {TradeLine._meta.db_table}
        (trade_id, oid, status, refund_status, num_iid, sku_id, outer_sku_id, title, price,
         num, payment, divide_order_fee)
    SELECT t.id, t.tid + i * 1000000000000000, 'TRADE_FINISHED', 'NO_REFUND',
           600000000000 + i, 'sku-' || i, 'SKU' || i, '商品 ' || i, 9.90, 1, 9.90, 9.90
    FROM {Trade._meta.db_table} t CROSS JOIN generate_series(1, %(lines)s) AS i
    WHERE t.tenant_id = %(tenant)s AND t.tid BETWEEN 4000000000000000000 + %(first)s
                                                 AND 4000000000000000000 + %(last)s
"""


def _columns(names: Iterable[str], alias: str) -> str:
    return ", ".join(f"{alias}.{name}" for name in names)


def copy_sql(tenant_id: int) -> str:
    """The export's rows as one query: the trade's columns, its lines as JSON, in its order."""
    line = ", ".join(f"'{c}', l.{c}" for c in exports.LINE_COLUMNS)
    return f"""
        COPY (
            SELECT {_columns(exports.TRADE_COLUMNS, "t")},
                   (SELECT coalesce(json_agg(json_build_object({line}) ORDER BY l.oid), '[]')
                    FROM {TradeLine._meta.db_table} l WHERE l.trade_id = t.id) AS lines
            FROM {Trade._meta.db_table} t WHERE t.tenant_id = {int(tenant_id)}
            ORDER BY t.modified, t.id
        ) TO STDOUT WITH (FORMAT csv)
    """


class RssPeak:
    """This process's resident memory, sampled every 50 ms while it runs: its peak."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


class Part(BaseCommand):
    help = (
        "Benchmark bulk export: a tenant of 1,000,000 trades streamed as NDJSON, CSV and "
        "Parquet in constant memory (rows/s, peak RSS and tracemalloc), beside psql COPY."
    )

    def add_arguments(self, parser):
        parser.add_argument("--trades", type=int, default=1_000_000, help="trades exported")
        parser.add_argument("--lines", type=int, default=2, help="sub-orders per trade")
        parser.add_argument(
            "--formats", default="ndjson,csv,parquet", help="formats (parquet needs pyarrow)"
        )
        parser.add_argument(
            "--no-tracemalloc", action="store_true", help="skip the slower tracemalloc pass"
        )

    def handle(self, *args, **opts):
        settings.DEBUG = False  # no query log growing with the export
        tag = f"bench-export-{int(time.time() * 1000)}"
        tenant = Tenant.objects.create(name=tag, slug=tag)
        app = TopApp.objects.create(name=tag, app_key=tag, app_secret="x", calls_per_minute=1)
        shop = Shop.objects.create(
            tenant=tenant, app=app, seller_nick=tag, seller_id=1, session_key="x"
        )
        try:
            self.fill(shop, opts["trades"], opts["lines"])
            self.copy(tenant, opts["trades"])
            for fmt in opts["formats"].split(","):
                self.measure(tenant, fmt.strip(), opts["trades"], not opts["no_tracemalloc"])
        finally:
            _drop(tenant)
            tenant.delete()
            app.delete()

    def fill(self, shop: Shop, trades: int, lines: int) -> None:
        started, step = time.monotonic(), 100_000
        with connection.cursor() as cursor:
            for first in range(0, trades, step):
                params = {
                    "tenant": shop.tenant_id,
                    "shop": shop.pk,
                    "first": first,
                    "last": min(first + step, trades) - 1,
                    "lines": lines,
                }
                cursor.execute(_TRADES_SQL, params)
                cursor.execute(_LINES_SQL, params)
            cursor.execute(f"ANALYZE {Trade._meta.db_table}, {TradeLine._meta.db_table}")
        self.stdout.write(
            f"filled a tenant with {trades:,} trades ({lines} sub-orders each) in "
            f"{time.monotonic() - started:.0f} s; exported oldest change first, "
            f"chunks of {exports.CHUNK:,}"
        )

    def _stream(self, tenant: Tenant, fmt: str, each: Callable[[int], None] | None = None) -> int:
        """Iterate the export's response as a WSGI server would; return the bytes sent
        (``each`` is told the bytes sent so far after every piece)."""
        if fmt == "parquet" and not _has_pyarrow():
            raise exports.FormatUnavailable("pyarrow is not installed")
        queryset = Trade.objects.filter(tenant=tenant)
        response = exports.response("trades", queryset, {"format": fmt})
        sent = 0
        for chunk in response.streaming_content:
            sent += len(chunk)
            if each is not None:
                each(sent)
        return sent

    def measure(self, tenant: Tenant, fmt: str, trades: int, traced: bool) -> None:
        try:
            with RssPeak() as rss:
                started = time.monotonic()
                sent = self._stream(tenant, fmt)
                seconds = time.monotonic() - started
        except exports.FormatUnavailable:
            self.stdout.write(f"  {fmt:<8} skipped: pyarrow (the parquet extra) is not installed")
            return
        self.stdout.write(
            f"  {fmt:<8} {trades:,} rows in {seconds:.1f} s: {trades / seconds:,.0f} rows/s, "
            f"{sent / MB / seconds:.1f} MB/s ({sent / MB:,.0f} MB); peak RSS "
            f"{rss.peak / MB:.0f} MB (at start {rss.start / MB:.0f} MB, "
            f"+{(rss.peak - rss.start) / MB:.1f} MB)"
        )
        if traced:
            self.trace(tenant, fmt, sent)

    def trace(self, tenant: Tenant, fmt: str, total: int) -> None:
        """The export again under tracemalloc: Python's peak as each tenth of it is sent."""
        marks = [total * k // 10 for k in range(1, 11)]
        seen: list[str] = []

        def note(sent: int) -> None:
            while marks and sent >= marks[0]:
                marks.pop(0)
                seen.append(f"{tracemalloc.get_traced_memory()[1] / MB:.2f}")

        tracemalloc.start()
        try:
            self._stream(tenant, fmt, note)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        self.stdout.write(
            f"  {fmt:<8} tracemalloc peak {peak / MB:.2f} MB; the peak so far at each tenth "
            f"of the export: {' '.join(seen)} MB"
        )

    def copy(self, tenant: Tenant, trades: int) -> None:
        """The same rows through psql's COPY to its standard output (read and counted here)."""
        psql = shutil.which("psql")
        if psql is None:
            self.stdout.write("  psql COPY skipped: psql is not installed")
            return
        started = time.monotonic()
        command = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", copy_sql(tenant.pk)]
        with subprocess.Popen(command, stdout=subprocess.PIPE, env=_libpq_env()) as process:
            assert process.stdout is not None
            sent = sum(len(chunk) for chunk in iter(lambda: process.stdout.read(MB), b""))
        seconds = time.monotonic() - started
        self.stdout.write(
            f"  psql COPY (the limit: PostgreSQL alone, CSV with lines as JSON) {trades:,} rows "
            f"in {seconds:.1f} s: {trades / seconds:,.0f} rows/s, {sent / MB / seconds:.1f} MB/s "
            f"({sent / MB:,.0f} MB); exit {process.returncode}"
        )


def _drop(tenant: Tenant) -> None:
    """The bench's rows, in two statements (a cascade through the ORM would load them)."""
    trades, lines = Trade._meta.db_table, TradeLine._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {lines} WHERE trade_id IN (SELECT id FROM {trades} WHERE tenant_id = %s)",
            [tenant.pk],
        )
        cursor.execute(f"DELETE FROM {trades} WHERE tenant_id = %s", [tenant.pk])


def _has_pyarrow() -> bool:
    from trades import parquet

    return parquet.available()


def _libpq_env() -> dict[str, str]:
    """psql's connection: the one Django holds (the embedded server's socket too)."""
    connection.ensure_connection()
    info = connection.connection.info
    env = {**os.environ, "PGHOST": info.host, "PGPORT": str(info.port), "PGUSER": info.user}
    env["PGDATABASE"] = info.dbname
    if info.password:
        env["PGPASSWORD"] = info.password
    return env
