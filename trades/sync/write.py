"""The write path: pages of platform trades and refunds into PostgreSQL.

One ``INSERT … ON CONFLICT`` per page (and one for the sub-orders of the rows that changed).
A row is only replaced by a newer ``modified``, so re-reading a window is harmless and an
older version never overwrites a newer one, whatever order writers commit in.

``modified`` has whole seconds only: a trade can change twice within one second, and the
lists may show the first version after we stored the second (the second became visible
later). Read order cannot tell which is newer, so the platform settles it: a record with
the stored ``modified`` but other content is fetched again with ``trade.fullinfo.get`` /
``taobao.refund.get`` (always current), and only that answer may replace a row of the
same second. Records that come from those detail APIs already (``current=True``) settle
themselves. So the change feed never shows a status moving backwards unless the platform
moved it.

Every row that changes is handed to :func:`trades.feed.changes.record_changes` in the same
transaction: that is the one place the change feed and the webhook outbox hook in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.dispatch import Signal

from ordersync.taobao import api
from ordersync.taobao.client import TopClient
from ordersync.taobao.errors import RefundNotFound, TradeNotFound
from ordersync.taobao.types import parse_money, parse_time
from shops.models import Shop
from shops.top import client_for_shop
from trades.db import binary_cursor, jsonb, stage, staged
from trades.feed.changes import Change, record_changes
from trades.presale import stages
from trades.sales import counting as sales
from trades.sync.fields import REFUND_FIELDS, TRADE_FIELDS

# column: (postgres array type, value from the wire record)
Columns = dict[str, tuple[str, Callable[[dict[str, Any]], Any]]]

TRADE_COLUMNS: Columns = {
    # column: (postgres array type, value from the wire trade)
    "tid": ("bigint", lambda t: t["tid"]),
    "status": ("text", lambda t: t.get("status") or ""),
    "type": ("text", lambda t: t.get("type") or ""),
    "created": ("timestamptz", lambda t: parse_time(t.get("created"))),
    "modified": ("timestamptz", lambda t: parse_time(t.get("modified"))),
    "pay_time": ("timestamptz", lambda t: parse_time(t.get("pay_time"))),
    "consign_time": ("timestamptz", lambda t: parse_time(t.get("consign_time"))),
    "end_time": ("timestamptz", lambda t: parse_time(t.get("end_time"))),
    "payment": ("numeric", lambda t: parse_money(t.get("payment"))),
    "total_fee": ("numeric", lambda t: parse_money(t.get("total_fee"))),
    "post_fee": ("numeric", lambda t: parse_money(t.get("post_fee"))),
    "buyer_open_uid": ("text", lambda t: t.get("buyer_open_uid") or ""),
    "buyer_nick": ("text", lambda t: t.get("buyer_nick") or ""),
    "receiver_state": ("text", lambda t: t.get("receiver_state") or ""),
    "receiver_city": ("text", lambda t: t.get("receiver_city") or ""),
    "receiver_district": ("text", lambda t: t.get("receiver_district") or ""),
    "step_trade_status": ("text", lambda t: t.get("step_trade_status") or ""),
    "step_paid_fee": ("numeric", lambda t: parse_money(t.get("step_paid_fee"))),
    "payload": ("jsonb", jsonb),
}

LINE_COLUMNS: Columns = {
    "oid": ("bigint", lambda o: o["oid"]),
    "status": ("text", lambda o: o.get("status") or ""),
    "refund_status": ("text", lambda o: o.get("refund_status") or ""),
    "num_iid": ("bigint", lambda o: o.get("num_iid")),
    "sku_id": ("text", lambda o: str(o.get("sku_id") or "")),
    "outer_sku_id": ("text", lambda o: str(o.get("outer_sku_id") or "")[:64]),
    "title": ("text", lambda o: (o.get("title") or "")[:300]),
    "price": ("numeric", lambda o: parse_money(o.get("price"))),
    "num": ("integer", lambda o: o.get("num")),
    "payment": ("numeric", lambda o: parse_money(o.get("payment"))),
    "divide_order_fee": ("numeric", lambda o: parse_money(o.get("divide_order_fee"))),
}

REFUND_COLUMNS: Columns = {
    "refund_id": ("bigint", lambda r: r["refund_id"]),
    "tid": ("bigint", lambda r: r["tid"]),
    "oid": ("bigint", lambda r: r.get("oid")),
    "status": ("text", lambda r: r.get("status") or ""),
    "refund_fee": ("numeric", lambda r: parse_money(r.get("refund_fee"))),
    "created": ("timestamptz", lambda r: parse_time(r.get("created"))),
    "modified": ("timestamptz", lambda r: parse_time(r.get("modified"))),
    "payload": ("jsonb", jsonb),
}


# Sent after a write that changed rows: ``shop``, ``entity`` ("trade" or "refund"),
# ``changes`` and ``channel`` (who wrote: "polling", "reconcile", "tmc", "jdp"; "" unnamed).
# The push channels count from it what polling and the reconcile found before them.
written = Signal()


@dataclass(frozen=True)
class WriteResult:
    seen: int
    written: int
    changes: list[Change]


class MalformedRecord(ValueError):
    """A platform record without the keys every record has; nothing of its page is written."""


def malformed(record: dict[str, Any], key: str, required: tuple[str, ...] | None = None) -> str:
    """What makes ``record`` unwritable ("" when nothing): the checks ``_write`` makes
    (``required``: the keys besides ``key``, those of trades and refunds by default)."""
    keys = (key, *(REQUIRED if required is None else required))
    missing = [k for k in keys if record.get(k) in (None, "")]
    if missing:
        return f"record without {', '.join(missing)}"
    if any(order.get("oid") in (None, "") for order in record.get("orders") or []):
        return "a sub-order without oid"
    return ""


def _check(records: list[dict[str, Any]], required: tuple[str, ...]) -> None:
    """Raise ``MalformedRecord`` for the first record without a ``required`` key."""
    for record in records:
        missing = [key for key in required if record.get(key) in (None, "")]
        if missing:
            raise MalformedRecord(f"record without {', '.join(missing)}: {str(record)[:200]}")


def _rows(
    records: list[dict[str, Any]], columns: Columns, required: tuple[str, ...]
) -> list[list[Any]]:
    _check(records, required)
    extracts = [extract for _, extract in columns.values()]
    return [[extract(record) for extract in extracts] for record in records]


def _types(columns: Columns) -> dict[str, str]:
    return {name: pg for name, (pg, _) in columns.items()}


def _newest_per_key(records: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """One record per key (the newest), sorted by key so concurrent writers lock in one order."""
    newest: dict[int, dict[str, Any]] = {}
    for record in records:
        current = newest.get(record[key])
        if current is None or (record.get("modified") or "") >= (current.get("modified") or ""):
            newest[record[key]] = record
    return [newest[k] for k in sorted(newest)]


def _upsert_sql(table: str, key: str, columns: Columns, stage: str) -> str:
    """The upsert of the rows staged in ``stage``, in key order (the order rows are locked)."""
    names = ", ".join(columns)
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in columns if name != key)
    # A row of the same second is replaced only by a record the platform settled.
    return f"""
        {staged(stage)}
        INSERT INTO {table} (tenant_id, shop_id, {names}, first_synced_at, last_synced_at)
        SELECT %(tenant)s, %(shop)s, {names}, now(), now() FROM staged ORDER BY {key}
        ON CONFLICT (shop_id, {key}) DO UPDATE SET {updates}, last_synced_at = now()
        WHERE {table}.modified < EXCLUDED.modified
           OR ({table}.modified = EXCLUDED.modified
               AND {table}.payload IS DISTINCT FROM EXCLUDED.payload
               AND {table}.{key} = ANY(%(settled)s))
        RETURNING id, {key}, status, modified, xmax = 0
    """


@dataclass(frozen=True)
class Entity:
    """What differs between writing trades and refunds."""

    name: str
    key: str
    table: str
    columns: Columns
    fetch: Callable[[TopClient, Shop, int], dict[str, Any]]  # the detail API: always current
    gone: type[Exception]
    # the stored row's stage (SQL) and a record's (Python) whose moves are events of their own
    stage_sql: str = "''"
    stage: Callable[[dict[str, Any]], str] = lambda record: ""


def _fullinfo(client: TopClient, shop: Shop, tid: int) -> dict[str, Any]:
    return api.trade_fullinfo_get(client, shop.session_key, tid, TRADE_FIELDS)


def _refund(client: TopClient, shop: Shop, refund_id: int) -> dict[str, Any]:
    return api.refund_get(client, shop.session_key, refund_id, REFUND_FIELDS)


TRADE = Entity(
    "trade",
    "tid",
    "trades_trade",
    TRADE_COLUMNS,
    _fullinfo,
    TradeNotFound,
    stages.STAGE_SQL,
    stages.stage,
)
REFUND = Entity("refund", "refund_id", "trades_refund", REFUND_COLUMNS, _refund, RefundNotFound)
REQUIRED = ("status", "created", "modified")


def _ties(shop: Shop, entity: Entity, records: list[dict[str, Any]]) -> list[int]:
    """Keys of ``records`` whose stored row has the same ``modified`` and other content."""
    same_second = set(_same_second(shop, entity, records))
    if not same_second:
        return []  # a new or newer page (a backfill's): no payload sent to compare
    records = [r for r in records if r[entity.key] in same_second]
    key = entity.key
    keys = [r[key] for r in records]
    with binary_cursor() as cursor:
        cursor.execute(
            f"""
            SELECT t.{key} FROM {entity.table} t
            JOIN unnest(%b::bigint[], %b::timestamptz[], %b::jsonb[]) AS u(k, m, p)
              ON t.{key} = u.k
            WHERE t.shop_id = %b AND t.{key} = ANY(%b) AND t.modified = u.m
              AND t.payload IS DISTINCT FROM u.p
            """,
            [
                keys,
                [parse_time(r["modified"]) for r in records],
                [jsonb(r) for r in records],
                shop.pk,
                keys,
            ],
        )
        return [row[0] for row in cursor.fetchall()]


def _same_second(shop: Shop, entity: Entity, records: list[dict[str, Any]]) -> list[int]:
    """Keys of ``records`` stored with the same ``modified``: the only possible ties."""
    key = entity.key
    keys = [r[key] for r in records]
    with binary_cursor() as cursor:
        # ``= ANY`` beside the join: the key index is probed for these rows only, instead of
        # the shop's rows all hashed (a backfill's cost would grow with what it stored)
        cursor.execute(
            f"""
            SELECT t.{key} FROM {entity.table} t
            JOIN unnest(%b::bigint[], %b::timestamptz[]) AS u(k, m) ON t.{key} = u.k
            WHERE t.shop_id = %b AND t.{key} = ANY(%b) AND t.modified = u.m
            """,
            [keys, [parse_time(r["modified"]) for r in records], shop.pk, keys],
        )
        return [row[0] for row in cursor.fetchall()]


def _settle(
    shop: Shop, entity: Entity, records: list[dict[str, Any]], client: TopClient | None
) -> tuple[list[dict[str, Any]], list[int]]:
    """``records`` with every same-second conflict replaced by the platform's current record
    (dropped when the platform no longer has it); and the keys so settled."""
    ties = _ties(shop, entity, records)
    if not ties:
        return records, []
    client = client_for_shop(shop, client)
    current = {}
    for value in ties:
        # gone from the platform's scope: the stored row stays as it is
        with contextlib.suppress(entity.gone):
            current[value] = entity.fetch(client, shop, value)
    _check(list(current.values()), (entity.key, *REQUIRED))
    tied = set(ties)
    kept = [r for r in records if r[entity.key] not in tied]
    return _newest_per_key(kept + list(current.values()), entity.key), list(current)


def _write(
    shop: Shop, entity: Entity, records: list[dict[str, Any]], settled: list[int]
) -> tuple[list[dict[str, Any]], list[Change]]:
    """Upsert ``records``; return them (one per key) and the changes they made."""
    key, table, columns = entity.key, entity.table, entity.columns
    records = _newest_per_key(records, key)
    rows = _rows(records, columns, (key, *REQUIRED))
    keys = [record[key] for record in records]
    with binary_cursor() as cursor:
        # Lock the rows we may replace first, so the status and stage they had are exact.
        cursor.execute(
            f"SELECT {key}, status, {entity.stage_sql} FROM {table}"
            f" WHERE shop_id = %s AND {key} = ANY(%s) ORDER BY {key} FOR UPDATE",
            [shop.pk, keys],
        )
        previous = {row[0]: row[1:] for row in cursor.fetchall()}
        staging = stage(cursor, table, _types(columns), rows)
        cursor.execute(
            _upsert_sql(table, key, columns, staging),
            {"tenant": shop.tenant_id, "shop": shop.pk, "settled": settled},
        )
        returned = cursor.fetchall()
    by_key = {record[key]: record for record in records}
    changes = [
        _change(entity, row, previous.get(row[1], ("", "")), by_key[row[1]]) for row in returned
    ]
    return records, changes


def _change(
    entity: Entity, row: tuple[Any, ...], previous: tuple[str, str], record: dict[str, Any]
) -> Change:
    """The change a returned row made; a row another writer inserted since our lock has no
    known previous status ("") nor stage ("")."""
    pk, value, status, modified, inserted = row
    # signals are derived here only, so a re-read (no row returned) never repeats one
    signals = stages.transitions(previous[1], entity.stage(record))
    return Change(
        entity.name, pk, value, status, None if inserted else previous[0], modified, signals
    )


def _prepare(
    shop: Shop,
    entity: Entity,
    records: list[dict[str, Any]],
    client: TopClient | None,
    current: bool,
    unsettled: Collection[int] = (),
) -> tuple[list[dict[str, Any]], list[int]]:
    """The records to write and the keys that may replace a row of the same second.

    Runs before the write's transaction: the detail calls that settle conflicts hold no
    lock of ours (inside a caller's transaction they cannot help it)."""
    records = _newest_per_key(records, entity.key)
    _check(records, (entity.key, *REQUIRED))  # malformed: raise before I/O
    if current:
        return records, [r[entity.key] for r in records if r[entity.key] not in unsettled]
    return _settle(shop, entity, records, client)


def write_trades(
    shop: Shop,
    trades: list[dict[str, Any]],
    *,
    client: TopClient | None = None,
    current: bool = False,
    unsettled: Collection[int] = (),
    channel: str = "",
) -> WriteResult:
    """Upsert a page of wire trades (each with ``orders``) and their sub-orders.

    ``current``: the trades come from ``trade.fullinfo.get`` and settle same-second
    conflicts themselves, but those of ``unsettled`` (fetched before their ``modified``
    second was over) replace only older rows; otherwise conflicts are settled with the
    detail API (through ``client``)."""
    if not trades:
        return WriteResult(0, 0, [])
    records, settled = _prepare(shop, TRADE, trades, client, current, unsettled)
    with transaction.atomic():
        records, changes = _write(shop, TRADE, records, settled)
        by_tid = {record["tid"]: record for record in records}
        _write_lines(
            shop,
            [(c.object_id, by_tid[c.key]) for c in changes],
            {c.object_id for c in changes if c.previous_status is None},
        )
        record_changes(shop, changes)
    _announce(shop, TRADE, changes, channel)
    return WriteResult(len(trades), len(changes), changes)


def _announce(shop: Shop, entity: Entity, changes: list[Change], channel: str) -> None:
    if changes:
        written.send(Entity, shop=shop, entity=entity.name, changes=changes, channel=channel)


def _write_lines(
    shop: Shop, trades: list[tuple[int, dict[str, Any]]], inserted: Collection[int] = ()
) -> None:
    """Upsert the sub-orders of written trades; what they count as sold goes to the sales
    per SKU and day (``trades.sales.counting``) in the same transaction. The trades of
    ``inserted`` (pks) were inserted by this transaction: no line of theirs can be stored
    (no other transaction sees them), so what their lines counted is not looked up."""
    lines = [
        (trade_id, order, sales.sold(trade, order))
        for trade_id, trade in trades
        for order in trade.get("orders") or []
    ]
    if not lines:
        return
    lines.sort(key=lambda line: (line[0], line[1]["oid"]))
    pairs = [(trade_id, order) for trade_id, order, _ in lines]
    stored = [(trade_id, order) for trade_id, order in pairs if trade_id not in inserted]
    before = sales.counted(stored) if stored else {}
    rows = _rows([order for _, order in pairs], LINE_COLUMNS, ("oid",))
    types = {
        "trade_id": "bigint",
        **_types(LINE_COLUMNS),
        "sold_on": "date",
        "sold_units": "integer",
    }
    names = ", ".join(types)
    updates = ", ".join(f"{n} = EXCLUDED.{n}" for n in types if n not in ("trade_id", "oid"))
    with binary_cursor() as cursor:
        staging = stage(
            cursor,
            "trades_tradeline",
            types,
            (
                [trade_id, *row, *count]
                for (trade_id, _, count), row in zip(lines, rows, strict=True)
            ),
        )
        cursor.execute(f"""
            {staged(staging)}
            INSERT INTO trades_tradeline ({names})
            SELECT {names} FROM staged ORDER BY trade_id, oid
            ON CONFLICT (trade_id, oid) DO UPDATE SET {updates}
        """)
    sales.add_differences(shop, lines, before)


def write_refunds(
    shop: Shop,
    refunds: list[dict[str, Any]],
    *,
    client: TopClient | None = None,
    current: bool = False,
    unsettled: Collection[int] = (),
    channel: str = "",
) -> WriteResult:
    """Upsert a page of wire refunds (``current``: from ``taobao.refund.get``;
    ``unsettled`` as for :func:`write_trades`)."""
    if not refunds:
        return WriteResult(0, 0, [])
    records, settled = _prepare(shop, REFUND, refunds, client, current, unsettled)
    with transaction.atomic():
        _, changes = _write(shop, REFUND, records, settled)
        record_changes(shop, changes)
    _announce(shop, REFUND, changes, channel)
    return WriteResult(len(refunds), len(changes), changes)
