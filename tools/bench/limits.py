"""What bounds the backfill on this machine, measured beside it on the same rows.

- **Source limit**: the sandbox's raw page rate — every trade page of the backfilled span read
  with the same client, fields and page size, in 12-hour slices, one after the other, nothing
  written. The backfill cannot write faster than it can read (it overlaps one page ahead).
- **Write limit**: the rows the backfill stored (trades and their sub-orders), streamed with
  ``COPY … TO STDOUT`` from one connection into ``COPY … FROM STDIN`` on another, as a second
  shop of the same tenant in the same tables with the same indexes. No upsert, no change
  feed, no parsing: the fastest the database takes these rows.
"""

from __future__ import annotations

import time
from datetime import timedelta
from functools import partial

import psycopg
from django.conf import settings
from django.db import connection, transaction

from ordersync.taobao import api
from shops.models import Shop
from shops.top import client_for_shop
from trades.models import Trade, TradeLine
from trades.sync.fields import TRADE_FIELDS
from trades.sync.reading import read_forward

SLICE = timedelta(hours=12)


def source_rate(shop: Shop, days: int) -> dict:
    """Trades/s and pages/s of reading the shop's last ``days`` of trades from the sandbox."""
    client = client_for_shop(shop)
    end = api.time_get(client)
    start, trades, pages = end - timedelta(days=days), 0, 0
    began = time.perf_counter()
    while start < end:
        fetch = partial(
            api.trades_sold_get,
            client,
            shop.session_key,
            start_created=start,
            end_created=min(end, start + SLICE) - timedelta(seconds=1),
            fields=TRADE_FIELDS,
            page_size=settings.SYNC_PAGE_SIZE,
            type=",".join(settings.SYNC_TRADE_TYPES),
        )
        for items in read_forward(lambda page_no, fetch=fetch: fetch(page_no=page_no)):
            trades, pages = trades + len(items), pages + 1
        start += SLICE
    seconds = time.perf_counter() - began
    return _rate(trades, seconds) | {"pages": pages, "pages_per_second": round(pages / seconds)}


def copy_rate(shop: Shop) -> dict:
    """Trades/s of loading the shop's stored trades and sub-orders again with ``COPY``."""
    twin = Shop.objects.create(
        tenant=shop.tenant, app=shop.app, seller_nick=f"{shop.seller_nick}-copy", seller_id=-shop.pk
    )
    trade_cols = _copied_columns(Trade, skip={"id"})
    line_cols = _copied_columns(TradeLine, skip={"id"})
    trades_out = ", ".join("%s::bigint" if c == "shop_id" else c for c in trade_cols)
    lines_out = ", ".join("t2.id" if c == "trade_id" else f"l.{c}" for c in line_cols)
    began = time.perf_counter()
    _stream(
        f"COPY (SELECT {trades_out % twin.pk} FROM trades_trade WHERE shop_id = {shop.pk})"
        " TO STDOUT (FORMAT binary)",
        f"COPY trades_trade ({', '.join(trade_cols)}) FROM STDIN (FORMAT binary)",
    )
    paused = time.perf_counter()
    with connection.cursor() as cursor:
        # not timed: without fresh statistics the planner takes the twin shop for empty and
        # joins the sub-orders to it row by row against all of its trades
        cursor.execute("ANALYZE trades_trade")
    began += time.perf_counter() - paused
    _stream(
        f"COPY (SELECT {lines_out} FROM trades_tradeline l"
        " JOIN trades_trade t1 ON l.trade_id = t1.id"
        f" JOIN trades_trade t2 ON t2.shop_id = {twin.pk} AND t2.tid = t1.tid"
        f" WHERE t1.shop_id = {shop.pk}) TO STDOUT (FORMAT binary)",
        f"COPY trades_tradeline ({', '.join(line_cols)}) FROM STDIN (FORMAT binary)",
    )
    seconds = time.perf_counter() - began
    copied = Trade.objects.filter(shop=twin).count()
    return _rate(copied, seconds) | {"lines": TradeLine.objects.filter(trade__shop=twin).count()}


def _copied_columns(model, skip: set[str]) -> list[str]:
    return [f.column for f in model._meta.concrete_fields if f.column not in skip]


def _stream(copy_out: str, copy_in: str) -> None:
    """Stream ``copy_out`` on Django's connection into ``copy_in`` on a second connection,
    committed when done."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with (
        transaction.atomic(),
        psycopg.connect(**params) as target,
        connection.cursor() as source,
        source.cursor.copy(copy_out) as reader,
        target.cursor() as into,
        into.copy(copy_in) as writer,
    ):
        for chunk in reader:
            writer.write(chunk)


def _rate(trades: int, seconds: float) -> dict:
    return {
        "trades": trades,
        "seconds": round(seconds, 1),
        "trades_per_second": round(trades / seconds) if seconds else None,
    }
