"""The partner API on a tenant of N trades: the trade list timed in-process (p50/p99), then
requests/s through gunicorn on loopback with a small threaded load generator."""

from __future__ import annotations

import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.test.utils import override_settings

from shops.models import Shop, Tenant, TopApp
from tools.bench import floor_wsgi
from trades.api.key_models import ApiKey
from trades.api.keys import create_api_key
from trades.models import Trade

BENCH_SLUG = "bench"
CHUNK = 100_000

# Trades spread over 90 days, four statuses, a few buyers; all NOT NULL columns given because
# Django keeps column defaults in Python, not in the table.
TRADES_SQL = """
INSERT INTO trades_trade (
    tenant_id, shop_id, tid, status, type, created, modified, pay_time, payment, total_fee,
    post_fee, buyer_open_uid, buyer_nick, receiver_state, receiver_city, receiver_district,
    step_trade_status, payload, first_synced_at, last_synced_at)
SELECT %(tenant)s, %(shop)s, 4000000000000 + g,
       (ARRAY['WAIT_BUYER_PAY','WAIT_SELLER_SEND_GOODS','WAIT_BUYER_CONFIRM_GOODS',
              'TRADE_FINISHED'])[1 + g %% 4],
       'fixed',
       now() - interval '90 days' + g * interval '7 seconds',
       now() - interval '90 days' + g * interval '7 seconds' + (g %% 600) * interval '1 second',
       now() - interval '90 days' + g * interval '7 seconds' + interval '1 minute',
       99.00, 99.00, 0.00, 'buyer-' || (g %% 5000), 'nick-' || (g %% 5000), '浙江省', '杭州市',
       '西湖区', '', '{}'::jsonb, now(), now()
FROM generate_series(%(start)s, %(stop)s) AS g
"""

LINES_SQL = """
INSERT INTO trades_tradeline (
    trade_id, oid, status, refund_status, num_iid, sku_id, outer_sku_id, title, price, num,
    payment, divide_order_fee)
SELECT t.id, t.tid * 10 + k, t.status, '', 600000 + k, 'sku-' || k, '', '商品 ' || k, 49.50, 1,
       49.50, 49.50
FROM trades_trade t CROSS JOIN generate_series(1, %(lines)s) AS k
WHERE t.shop_id = %(shop)s AND t.tid BETWEEN 4000000000000 + %(start)s AND 4000000000000 + %(stop)s
"""


def load_trades(count: int, lines: int, log=print) -> Shop:
    """The bench tenant's shop with ``count`` trades of ``lines`` sub-orders (reused if there)."""
    tenant, _ = Tenant.objects.get_or_create(slug=BENCH_SLUG, defaults={"name": "Bench"})
    app, _ = TopApp.objects.get_or_create(
        app_key="bench", defaults={"name": "Bench", "app_secret": "bench"}
    )
    shop, _ = Shop.objects.get_or_create(
        tenant=tenant, app=app, seller_id=1, defaults={"seller_nick": "bench"}
    )
    have = Trade.objects.filter(shop=shop).count()
    if have == count:
        log(f"reusing {have:,} trades of tenant '{BENCH_SLUG}'")
        return shop
    if have:
        log(f"dropping {have:,} trades of tenant '{BENCH_SLUG}'")
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM trades_tradeline WHERE trade_id IN "
                "(SELECT id FROM trades_trade WHERE shop_id = %s)",
                [shop.pk],
            )
            cursor.execute("DELETE FROM trades_trade WHERE shop_id = %s", [shop.pk])
    started = time.perf_counter()
    for start in range(1, count + 1, CHUNK):
        params = {
            "tenant": tenant.pk,
            "shop": shop.pk,
            "start": start,
            "stop": min(start + CHUNK - 1, count),
            "lines": lines,
        }
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
            cursor.execute(TRADES_SQL, params)
            cursor.execute(LINES_SQL, params)
        log(f"  loaded {params['stop']:,} trades")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE trades_trade")
        cursor.execute("ANALYZE trades_tradeline")
    elapsed = time.perf_counter() - started
    log(f"loaded {count:,} trades and {count * lines:,} sub-orders in {elapsed:.1f} s")
    return shop


def read_key(shop: Shop) -> str:
    # a new key each run on a reused tenant: the benchmark is not a tenant, so not capped
    return create_api_key(shop.tenant, "bench", ApiKey.Scope.READ, capped=False).token


def time_in_process(token: str, page: int, samples: int) -> dict:
    """p50/p99 of ``GET /api/v1/trades/`` through Django's test client, no network."""
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    timings = []
    cursor = None
    with override_settings(DEBUG=False):  # DEBUG would log every query
        for n in range(samples + 20):
            params = {"limit": page, **({"cursor": cursor} if cursor else {})}
            started = time.perf_counter()
            response = client.get("/api/v1/trades/", params)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.content[:300]
            body = response.json()
            # walk 50 pages deep, then start over: first pages and deep pages alike
            cursor = body["next_cursor"] if n % 50 else None
            if n >= 20:  # warm-up
                timings.append(elapsed * 1000)
    timings.sort()
    return {
        "page": page,
        "requests": samples,
        "p50_ms": round(statistics.median(timings), 1),
        "p99_ms": round(timings[min(len(timings) - 1, int(len(timings) * 0.99))], 1),
    }


def time_through_gunicorn(
    token: str, *, page: int, workers: int, clients: int, seconds: float, threads: int = 1
):
    """Requests/s of the trade list through gunicorn on loopback; one figure per page size.

    ``threads`` above 1 runs gunicorn's threaded workers (``gthread``, as deploy/ does), which
    keep the load generator's connections open between requests; 1 runs sync workers, which
    close each connection after one answer."""
    port = _free_port()
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),  # DEBUG off refuses a weak key
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "API_KEY_THROTTLE_RATE": "100000000/min",  # measure the API, not the throttle
        "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback
        "LOG_LEVEL": "WARNING",
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [
            str(gunicorn),
            "tools.bench.floor_wsgi",  # ordersync, plus a static 200 for the floor
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=settings.BASE_DIR,
    )
    results = []
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(base)
        targets = [(size, f"{base}/api/v1/trades/?limit={size}") for size in sorted({page, 10})]
        for size, url in [*targets, ("static", base + floor_wsgi.STATIC_PATH)]:
            server_cpu, client_cpu = _cpu_seconds(server.pid), time.process_time()
            done, errors, latencies = _load(url, token, clients, seconds)
            server_cpu = _cpu_seconds(server.pid) - server_cpu
            client_cpu = time.process_time() - client_cpu
            latencies.sort()
            per = 1000 / max(done, 1)
            results.append(
                {
                    "page": size,
                    "workers": workers,
                    "threads": threads,
                    "clients": clients,
                    "seconds": seconds,
                    "requests_per_second": round(done / seconds, 1),
                    "ok": done,
                    "errors": errors,
                    "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
                    "p99_ms": (
                        round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1)
                        if latencies
                        else None
                    ),
                    "gunicorn_cpu_ms_per_request": round(server_cpu * per, 1),
                    "load_generator_cpu_ms_per_request": round(client_cpu * per, 1),
                }
            )
    finally:
        server.terminate()
        server.wait(10)
    return results


def _cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and its children (gunicorn's workers), from /proc."""
    total = 0
    pids = [pid]
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        pids.append(int(child))
    for each in pids:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # a worker that was just replaced
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"{base}/api/schema/", timeout=5)
            return
        except requests.RequestException:  # not listening yet, or busy starting
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start within 30 s")


def _load(url: str, token: str, clients: int, seconds: float) -> tuple[int, int, list[float]]:
    """Hit ``url`` from ``clients`` threads for ``seconds``; bounded in time by design."""
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    totals = {"ok": 0, "errors": 0}
    latencies: list[float] = []

    def run() -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                ok = session.get(url, timeout=10).status_code == 200
            except requests.RequestException:
                ok = False
            with lock:
                totals["ok" if ok else "errors"] += 1
                latencies.append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return totals["ok"], totals["errors"], latencies
