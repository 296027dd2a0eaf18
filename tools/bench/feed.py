"""The change feed read by one partner: N changes of one tenant paged through
``GET /api/v1/changes/?limit=1000`` by one client, against the same rows read by ``psql``.

Changes are written as the write path writes them (one transaction per 1,000, so each gets
its feed position from the commit trigger) and kept for the next run of the same size.
The client is Django's test client in this process (no network: the API's own cost); the
floor is ``psql`` copying the same rows, in the same order, out of the same join.
"""

from __future__ import annotations

import subprocess
import time
from unittest import mock

from django.db import connection, transaction
from django.test import Client
from django.test.utils import override_settings

from shops.models import Shop, Tenant, TopApp
from trades.api.auth import ApiKeyRateThrottle
from trades.api.key_models import ApiKey
from trades.api.keys import create_api_key
from trades.feed.models import ChangeEvent, FeedCommit

SLUG = "bench-feed"
BATCH = 1000
PAGE = 1000

INSERT_SQL = """
INSERT INTO trades_changeevent
    (tenant_id, shop_id, entity, object_id, key, status, previous_status, modified)
SELECT %(tenant)s, %(shop)s, 'trade', g, 5000000000000 + g, 'WAIT_SELLER_SEND_GOODS',
       'WAIT_BUYER_PAY', now() - interval '1 day' + g * interval '50 milliseconds'
FROM generate_series(%(start)s, %(stop)s) AS g
"""


def load_changes(count: int, log=print) -> Shop:
    """The bench-feed tenant's shop with ``count`` changes (reused when it has them)."""
    tenant, _ = Tenant.objects.get_or_create(slug=SLUG, defaults={"name": "Bench feed"})
    app, _ = TopApp.objects.get_or_create(
        app_key=SLUG, defaults={"name": "Bench feed", "app_secret": "bench"}
    )
    shop, _ = Shop.objects.get_or_create(
        tenant=tenant, app=app, seller_id=1, defaults={"seller_nick": SLUG}
    )
    if ChangeEvent.objects.filter(tenant=tenant).count() == count:
        log(f"feed: reusing {count:,} changes of tenant '{SLUG}'")
        return shop
    ChangeEvent.objects.filter(tenant=tenant)._raw_delete("default")
    log(f"feed: writing {count:,} changes, {BATCH:,} per transaction …")
    for start in range(1, count + 1, BATCH):
        with transaction.atomic(), connection.cursor() as cursor:
            stop = min(count, start + BATCH - 1)
            params = {"tenant": tenant.pk, "shop": shop.pk, "start": start, "stop": stop}
            cursor.execute(INSERT_SQL, params)
    # As the api part's loader does: a table read at once after a bulk write has no
    # statistics yet (autovacuum analyzes it a minute or more later), and on none the planner
    # guessed a few rows per transaction and sorted every change after the cursor for each
    # page, a page's time growing with what was left to read. The figure is the feed on a
    # table PostgreSQL has statistics of, as one is after autovacuum's first pass.
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {ChangeEvent._meta.db_table}")
        cursor.execute(f"ANALYZE {FeedCommit._meta.db_table}")
    return shop


def read_all(shop: Shop) -> dict:
    """Changes/s of one client paging through the whole feed, and of psql on the same rows."""
    token = create_api_key(shop.tenant, "bench", ApiKey.Scope.READ, capped=False).token
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    read, pages, cursor = 0, 0, None
    started = time.perf_counter()
    # measure the feed, not the key's request budget (1,200 pages a minute by default)
    unthrottled = mock.patch.object(ApiKeyRateThrottle, "get_rate", lambda self: "100000000/min")
    with override_settings(DEBUG=False), unthrottled:
        while True:
            params = {"limit": PAGE, **({"cursor": cursor} if cursor else {})}
            body = client.get("/api/v1/changes/", params).json()
            read, pages, cursor = read + len(body["results"]), pages + 1, body["next_cursor"]
            if not body["has_more"]:
                break
    seconds = time.perf_counter() - started
    psql = _psql_seconds(shop.tenant_id)
    return {
        "changes": read,
        "pages": pages,
        "page": PAGE,
        "seconds": round(seconds, 1),
        "changes_per_second": round(read / seconds),
        "psql_seconds": round(psql, 1),
        "psql_changes_per_second": round(read / psql) if psql else None,
    }


def _psql_seconds(tenant_id: int) -> float:
    params = connection.get_connection_params()
    sql = (
        "COPY (SELECT e.*, c.id AS position FROM trades_feedcommit c"
        " JOIN trades_changeevent e ON e.tenant_id = c.tenant_id AND e.txid = c.txid"
        f" WHERE c.tenant_id = {int(tenant_id)} ORDER BY c.id, e.id) TO STDOUT"
    )
    command = ["psql", "-X", "-q", "-h", str(params.get("host") or "127.0.0.1")]
    command += ["-p", str(params.get("port") or 5432), "-U", str(params["user"])]
    command += ["-d", str(params["dbname"]), "-c", sql]
    env = {"PGPASSWORD": str(params.get("password") or "")}
    started = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started
