"""The third channel: read what the Jushita push wrote into the RDS, write it through the
sync engine's write path.

Per shop (one seller in one RDS) and pushed table, a pass reads the seller's rows in
(``jdp_modified``, key) order from the checkpoint minus ``JDP_OVERLAP_SECONDS``, in batches
of ``JDP_BATCH_SIZE``. Each batch is written through ``write_trades``/``write_refunds``
(monotonic by ``modified``, change feed and outbox in the same transaction) and only then
does the checkpoint move, to the newest ``jdp_modified`` of the batch. Why the overlap:
``jdp_modified`` has whole seconds (a second can still fill after we read it) and the push's
order is not documented (a row may be stamped behind rows already read); re-reading is
harmless, the write path skips what is stored. A crash between the write and the move
re-reads the batch; nothing is lost and nothing is written twice in the feed.

A row whose ``jdp_response`` cannot be read is set aside on the checkpoint like any poison
record (``trades/sync/poison.py``): the batch passes, the daily reconcile fetches the
record with the detail API. One pass per (shop, table) at a time: the checkpoint's run lock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ordersync.taobao.jdp import MalformedResponse, parse_response
from ordersync.taobao.types import PLATFORM_TZ, parse_time
from shops.models import Checkpoint, Shop
from trades.jdp import findings, rds
from trades.jdp.models import JdpShop
from trades.sync.fields import REFUND_FIELDS, TRADE_FIELDS
from trades.sync.locks import run_lock
from trades.sync.poison import SetAside
from trades.sync.write import write_refunds, write_trades

EPOCH = datetime(2000, 1, 1, tzinfo=PLATFORM_TZ)  # before any pushed row


@dataclass(frozen=True)
class Table:
    """What differs between the pushed trade and refund tables."""

    kind: str  # "trade" or "refund": the jdp_response root
    name: str
    key: str
    stream: str
    fields: frozenset[str]  # what the engine keeps of a record (its list/detail fields)
    write: Callable


def _names(fields: str) -> frozenset[str]:
    return frozenset(name for name in fields.split(",") if name)


TRADES = Table(
    "trade", "jdp_tb_trade", "tid", Checkpoint.Stream.JDP_TRADES, _names(TRADE_FIELDS), write_trades
)
REFUNDS = Table(
    "refund", "jdp_tb_refund", "refund_id", Checkpoint.Stream.JDP_REFUNDS,
    _names(REFUND_FIELDS), write_refunds,
)  # fmt: skip
# Tmall's refunds: the same record (taobao.refund.get's answer), the same write path
TM_REFUNDS = Table(
    "refund", "jdp_tm_refund", "refund_id", Checkpoint.Stream.JDP_TM_REFUNDS,
    _names(REFUND_FIELDS), write_refunds,
)  # fmt: skip
TABLES = (TRADES, REFUNDS, TM_REFUNDS)


@dataclass
class PassResult:
    """What one pass over one table did."""

    locked: bool = True  # False: another consumer holds the lock; nothing was read
    batches: int = 0
    rows: int = 0
    written: int = 0
    set_aside: list[str] = field(default_factory=list)


class Seen:
    """What this process wrote, by (table, key) → (``jdp_modified``, ``jdp_hashcode``): a
    row the overlap reads again unchanged is not parsed nor written again (a row pushed
    again has a new stamp). Memory only: a restart re-reads, and re-writing is harmless;
    forgotten wholesale past ``limit`` entries."""

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self.versions: dict[tuple[str, int], tuple] = {}

    def new(self, table: Table, rows: list) -> list:
        """``rows`` but those this process already wrote as they are."""
        return [r for r in rows if self.versions.get((table.name, r.key)) != _version(r)]

    def add(self, table: Table, rows: list) -> None:
        if len(self.versions) > self.limit:
            self.versions.clear()
        self.versions.update(((table.name, r.key), _version(r)) for r in rows)


def _version(row) -> tuple:
    return (row.jdp_modified, row.hashcode)


def consume_shop(shop: Shop, connection, seen: Seen | None = None) -> dict[str, PassResult]:
    """One pass over every pushed table of ``shop``; return what each did."""
    return {table.name: consume_table(shop, table, connection, seen) for table in TABLES}


def consume_table(shop: Shop, table: Table, connection, seen: Seen | None = None) -> PassResult:
    """Read and write every row of ``shop`` in ``table`` from the checkpoint − overlap on."""
    checkpoint, _ = Checkpoint.objects.get_or_create(shop=shop, stream=table.stream)
    with run_lock(checkpoint.pk) as taken:
        if not taken:
            return PassResult(locked=False)
        return _pass(shop, table, connection, checkpoint.pk, seen or Seen())


def _pass(shop: Shop, table: Table, connection, checkpoint_pk: int, seen: Seen) -> PassResult:
    result = PassResult()
    checkpoint = Checkpoint.objects.get(pk=checkpoint_pk)
    position = (start_of(checkpoint), 0)
    limit = settings.JDP_BATCH_SIZE
    while True:
        rows = rds.read_batch(connection, table.name, table.key, shop.seller_nick, position, limit)
        if not rows:
            break
        consume_batch(shop, table, rows, checkpoint_pk, result, seen)
        position = (rows[-1].jdp_modified, rows[-1].key)
        if len(rows) < limit:
            break
    _note_behind(shop, table, connection, checkpoint_pk)
    return result


def start_of(checkpoint: Checkpoint) -> datetime:
    """Where a pass starts reading: the checkpoint less the overlap."""
    if checkpoint.cursor is None:
        return EPOCH
    return checkpoint.cursor - timedelta(seconds=settings.JDP_OVERLAP_SECONDS)


def consume_batch(
    shop: Shop, table: Table, rows: list, checkpoint_pk: int, result, seen: Seen
) -> None:
    """Write one batch, then move the checkpoint: never the other way round."""
    set_aside = SetAside()
    parsed = parse_batch(table, seen.new(table, rows), set_aside)
    changes = write_batch(shop, table, [record for _, record in parsed])
    # before the checkpoint moves: a crash in between reads these rows again
    findings.delivered(shop, table.kind, [_delivery(table, row, r) for row, r in parsed])
    advance(checkpoint_pk, rows, set_aside)
    seen.add(table, rows)
    result.batches += 1
    result.rows += len(rows)
    result.written += len(changes)
    result.set_aside += list(set_aside.records)
    _note_batch(shop, rows, changes)


def parse_batch(table: Table, rows: list, set_aside: SetAside) -> list[tuple]:
    """(row, record) of each row whose record the engine keeps; set aside what cannot be
    written."""
    parsed = []
    for row in rows:
        try:
            parsed.append((row, parse_response(table.kind, row.response)))
        except MalformedResponse as error:
            set_aside.records[str(row.key)] = f"malformed jdp_response: {error}"
    kept = {id(r) for r in set_aside.drop_malformed([r for _, r in parsed], table.key)}
    return [(row, _kept(r, table)) for row, r in parsed if id(r) in kept and _synced(r, table)]


def write_batch(shop: Shop, table: Table, records: list) -> list:
    """Write the records through the sync write path; return the changes."""
    # not ``current``: the row may be older than what polling stored in the same second,
    # and the write path then asks the detail API (a rare call) which one is current
    return table.write(shop, records, channel="jdp").changes


def _delivery(table: Table, row, record: dict) -> tuple[int, datetime, datetime]:
    return (record[table.key], parse_time(record["modified"]), row.jdp_modified)


def _kept(record: dict, table: Table) -> dict:
    return {name: value for name, value in record.items() if name in table.fields}


def _synced(record: dict, table: Table) -> bool:
    """Trades of types the sync does not keep (``SYNC_TRADE_TYPES``) are skipped, as the
    lists and TMC skip them."""
    return table is not TRADES or record.get("type") in settings.SYNC_TRADE_TYPES


@transaction.atomic
def advance(checkpoint_pk: int, rows: list, set_aside: SetAside) -> None:
    """Move the checkpoint to the newest ``jdp_modified`` of a written batch (never back)."""
    checkpoint = Checkpoint.objects.select_for_update().get(pk=checkpoint_pk)
    newest = max(row.jdp_modified for row in rows)
    if checkpoint.cursor is None or newest > checkpoint.cursor:
        checkpoint.cursor = newest
    set_aside.save_on(checkpoint)
    checkpoint.last_success_at = timezone.now()
    checkpoint.consecutive_failures = 0
    checkpoint.last_error = ""
    checkpoint.save()


def _note_batch(shop: Shop, rows: list, changes: list) -> None:
    """Count the batch on the shop's JDP row: rows, changes, late ones, freshness. Late is
    by platform times: the row's ``jdp_modified`` against the change's ``modified``. The
    history pushed on enrolment is old by nature: only changes since enrolment count."""
    now = timezone.now()
    state = JdpShop.objects.filter(shop=shop).first()
    live = [c for c in changes if state is not None and state.since_enrolment(c.modified)]
    stamps = {row.key: row.jdp_modified for row in rows}
    late = timedelta(seconds=settings.JDP_LATE_SECONDS)
    update = {
        "rows_read": F("rows_read") + len(rows),
        "changes_written": F("changes_written") + len(changes),
        "late": F("late") + sum(1 for c in live if stamps[c.key] - c.modified > late),
        "last_row_at": now,
    }
    if live:
        update["freshness_seconds"] = max(
            0.0, min((now - c.modified).total_seconds() for c in live)
        )
    JdpShop.objects.filter(shop=shop).update(**update)


def _note_behind(shop: Shop, table: Table, connection, checkpoint_pk: int) -> None:
    """How far the checkpoint trails the push (the larger of the two tables is shown)."""
    newest = rds.newest(connection, table.name, shop.seller_nick)
    cursor = Checkpoint.objects.filter(pk=checkpoint_pk).values_list("cursor", flat=True)[0]
    behind = 0.0 if newest is None or cursor is None else (newest - cursor).total_seconds()
    if table is TRADES:
        JdpShop.objects.filter(shop=shop).update(behind_seconds=max(0.0, behind))
    elif behind > 0:
        JdpShop.objects.filter(shop=shop, behind_seconds__lt=behind).update(behind_seconds=behind)


def record_failure(shop: Shop, table: Table, error: Exception) -> None:
    """A pass failed: the checkpoint stays; its failure is shown in the console."""
    Checkpoint.objects.filter(shop=shop, stream=table.stream).update(
        last_error=f"{type(error).__name__}: {error}"[:2000],
        consecutive_failures=F("consecutive_failures") + 1,
    )
