"""The change feed reads a page of changes, not the feed, whatever PostgreSQL's statistics say.

A tenant's backfill writes hundreds of thousands of changes in minutes; until autovacuum
analyzes the tables, the planner's statistics describe the feed as it was before. The page
query then read and sorted every change after the cursor for each page. Here the statistics
are taken of a small feed, a backfill's worth is written after them, and each page's plan
(EXPLAIN ANALYZE of the very statements the feed runs, with its settings) must read about a
page of changes. Rows read, not time: the counts are exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection, transaction

from tests.support import actors
from trades.feed.changes import encode_cursor, read_changes_page
from trades.feed.models import ChangeEvent, FeedCommit

CHANGES, COMMITS = ChangeEvent._meta.db_table, FeedCommit._meta.db_table
PER_COMMIT = 250  # changes per writing transaction, as a backfill's writes
LIMIT = 100
# a page of changes and a few positions read whole (the cursor's, before the cursor; another
# shop's skipped with ``shop``; the one after the page, up to its first change kept)
BOUND = LIMIT + 3 * PER_COMMIT
TXID = 10**9  # transaction ids of the rows written here, past any this server has used

# ``count`` changes in transactions of ``PER_COMMIT``, the two shops taking turns, and their
# positions in transaction order, as the commit trigger hands them out
_WRITE_CHANGES = f"""
    INSERT INTO {CHANGES} (tenant_id, shop_id, entity, object_id, key, status, modified, txid)
    SELECT %(tenant)s, CASE WHEN mod(g / {PER_COMMIT}, 2) = 0 THEN %(shop)s ELSE %(other)s END,
           'trade', g, g, 'WAIT_SELLER_SEND_GOODS', now(), (%(txid)s + g / {PER_COMMIT})::text::xid8
    FROM generate_series(0, %(count)s - 1) AS g
"""
_WRITE_COMMITS = f"""
    INSERT INTO {COMMITS} (tenant_id, txid)
    SELECT %(tenant)s, (%(txid)s + k)::text::xid8
    FROM generate_series(0, %(count)s / {PER_COMMIT} - 1) AS k ORDER BY k
"""


def write_feed(shop, other, count: int, txid: int) -> None:
    params = {"tenant": shop.tenant_id, "shop": shop.pk, "other": other.pk, "txid": txid}
    with connection.cursor() as cursor:
        cursor.execute(_WRITE_CHANGES, {**params, "count": count})
        cursor.execute(_WRITE_COMMITS, {**params, "count": count})


def never_analyzed() -> None:
    """Tables of the feed that have no statistics, as a database's are until autovacuum's
    first pass: empty copies made for this test's transaction, which shadow the tables for the
    feed's statements (temporary tables come first on the search path) and which autovacuum
    never analyzes."""
    with connection.cursor() as cursor:
        for table in (CHANGES, COMMITS):
            cursor.execute(f"CREATE TEMP TABLE {table} (LIKE {table} INCLUDING ALL) ON COMMIT DROP")


@pytest.fixture(params=["never analyzed", "analyzed before the backfill"])
def backfilled(request, shop_a, top_app):
    """Tenant A's feed with 40,000 changes (160 positions) its tables have no statistics of."""
    other = actors.shop(shop_a.tenant, top_app, "a2", 1002)
    txid = TXID
    if request.param == "never analyzed":
        never_analyzed()
    else:
        write_feed(shop_a, other, 1_000, txid)
        txid += 1_000 // PER_COMMIT
        with connection.cursor() as cursor:  # in the test's transaction: rolled back with it
            cursor.execute(f"ANALYZE {CHANGES}")
            cursor.execute(f"ANALYZE {COMMITS}")
    write_feed(shop_a, other, 40_000, txid)
    return shop_a


def _nodes(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


_READ = ("Actual Rows", "Rows Removed by Filter", "Rows Removed by Index Recheck")


def changes_read(plan: dict) -> int:
    """Rows the plan took out of the change table, kept or filtered out."""
    return sum(
        round(node["Actual Loops"] * sum(node.get(key, 0) for key in _READ))
        for node in _nodes(plan["Plan"])
        if node.get("Relation Name") == CHANGES
    )


def explained(plans: list[dict]) -> Callable[..., Any]:
    """An execute wrapper that runs each statement of the feed (commits joined to changes)
    under EXPLAIN ANALYZE first, in the same transaction and settings, into ``plans``."""

    def wrapper(execute, sql, params, many, context):  # noqa: ANN001, ANN202
        if COMMITS in sql and CHANGES in sql:
            execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params, many, context)
            plans.append(context["cursor"].fetchone()[0][0])
        return execute(sql, params, many, context)

    return wrapper


def test_a_page_reads_a_page_of_changes_whatever_the_statistics(backfilled, owner_client):
    tenant, shop = backfilled.tenant, backfilled
    middle = FeedCommit.objects.filter(tenant=tenant).order_by("pk")[81]
    inside = ChangeEvent.objects.filter(txid=middle.txid).order_by("pk")[50].pk
    last = FeedCommit.objects.filter(tenant=tenant).order_by("pk").last()
    near_end = ChangeEvent.objects.filter(txid=last.txid).order_by("pk")[200].pk
    plans: list[dict] = []
    with connection.execute_wrapper(explained(plans)):
        first, _, more = read_changes_page(tenant, None, LIMIT)
        assert len(first) == LIMIT and more
        for after in (encode_cursor(middle.pk, inside), encode_cursor(last.pk, near_end)):
            read_changes_page(tenant, after, LIMIT)
            # with ``shop``, a read first looks for the newest change of any shop
            read_changes_page(tenant, after, LIMIT, shop.pk)
        body = owner_client.get("/api/v1/changes/", {"limit": LIMIT, "shop": shop.pk}).json()
        assert len(body["results"]) == LIMIT and body["has_more"]
    assert len(plans) == 9  # three reads of every shop, three of one shop and their tops
    read = [changes_read(plan) for plan in plans]
    assert max(read) <= BOUND, f"changes read per statement: {read}; a page is {LIMIT}"


def test_a_position_larger_than_a_page_is_read_whole_once_in_order(shop_a, top_app):
    """Each position's changes are read only up to the page's end: none is dropped or repeated
    across the pages it spans, with or without ``shop``."""
    other = actors.shop(shop_a.tenant, top_app, "a2", 1002)
    write_feed(shop_a, other, 1_500, TXID)  # 6 positions of 250, the shops taking turns
    feed = ChangeEvent.objects.filter(tenant=shop_a.tenant).order_by("txid", "pk")
    for shop_id in (None, shop_a.pk):
        read, cursor, more = [], None, True
        while more:
            page, cursor, more = read_changes_page(shop_a.tenant, cursor, LIMIT, shop_id)
            read += [event.pk for event in page]
        of_shop = feed.filter(shop_id=shop_id) if shop_id else feed
        assert read == list(of_shop.values_list("pk", flat=True))


def planner_settings() -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('enable_sort'), current_setting('enable_bitmapscan')"
        )
        return cursor.fetchone()


@pytest.mark.django_db(transaction=True)
def test_the_planner_settings_end_with_the_read(shop_a):
    read_changes_page(shop_a.tenant, None, 10)
    assert planner_settings() == ("on", "on")
    with transaction.atomic():
        read_changes_page(shop_a.tenant, None, 10, shop_a.pk)
        assert planner_settings() == ("on", "on")
    assert planner_settings() == ("on", "on")
