"""One pull's messages for one shop: fetch what they point at, write it, name each outcome.

A message is only a hint ("trade T changed"), so the messages of a pull are collapsed per
trade and per refund, each is fetched once in its current state and written through the sync
engine's write path in one transaction, at once: a record fetched within its ``modified``
second replaces an older row but not one of its own second, and if it changed nothing its
messages wait until the second is over and fetch it again (see :func:`settle_wait`). The
consumer confirms a message only after the transaction that wrote its record committed (see
:mod:`trades.tmc.consumer`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction

from ordersync.taobao import api
from ordersync.taobao.api import TmcMessage
from ordersync.taobao.client import TopClient
from ordersync.taobao.errors import InvalidRequest, SessionInvalid, TopError
from ordersync.taobao.store import close_state_connection
from ordersync.taobao.types import parse_time
from shops.actions import mark_needs_reauth
from shops.models import Shop
from shops.top import client_for_shop
from trades.sync import late
from trades.sync.fields import REFUND_FIELDS, TRADE_FIELDS
from trades.sync.write import write_refunds, write_trades
from trades.tmc.permits import forget_permit
from trades.tmc.stats import PullResult, note_freshness

log = logging.getLogger("trades.tmc")

TRADE_PREFIX = "taobao_trade_"
REFUND_PREFIX = "taobao_refund_"
AUTH_CANCEL = "taobao_top_AuthCancel"
MAX_SETTLE_WAIT = 3.0  # a publish time far ahead of our clock must not stall the consumer

# What became of a message (the ``outcome`` label of ordersync_tmc_messages_total).
WRITTEN = "written"  # its trade/refund was fetched and written (or already current)
COLLAPSED = "collapsed"  # another message for the same trade/refund in the pull covered it
NOT_FOUND = "not_found"  # the platform no longer shows the trade/refund
FILTERED = "filtered"  # a trade type the sync does not keep (SYNC_TRADE_TYPES)
UNKNOWN_SELLER = "unknown_seller"  # no shop of this app for the seller
INACTIVE_SHOP = "inactive_shop"  # the shop is paused or needs re-authorisation
AUTH_CANCEL_OUTCOME = "auth_cancel"
SESSION_INVALID = "session_invalid"  # the fetch found the session dead: shop → needs_reauth
IGNORED = "ignored"  # a topic the consumer has no use for
FAILED = "failed"  # fetch or write failed: left unconfirmed, the platform sends it again

NOT_THERE = object()  # a fetch answered "no such trade/refund"


@dataclass
class ShopWork:
    """The messages of one pull for one shop, collapsed per trade and per refund."""

    shop: Shop
    trades: dict[int, list[TmcMessage]] = field(default_factory=lambda: defaultdict(list))
    refunds: dict[int, list[TmcMessage]] = field(default_factory=lambda: defaultdict(list))

    def messages(self) -> set[int]:
        ids = {m.id for ms in self.trades.values() for m in ms}
        return ids | {m.id for ms in self.refunds.values() for m in ms}


def triage(message: TmcMessage, shop: Shop | None, work: dict) -> str | None:
    """File ``message`` under its shop's work; or return the outcome of a message that
    needs no fetch (it is confirmed as it is)."""
    if message.topic == AUTH_CANCEL:
        if shop is not None:
            forget_permit(shop)
            mark_needs_reauth(shop, "taobao_top_AuthCancel: the seller revoked the app")
        return AUTH_CANCEL_OUTCOME
    if shop is None:
        return UNKNOWN_SELLER
    if shop.status != Shop.Status.ACTIVE:
        return INACTIVE_SHOP
    content = message.content
    tid = _int(content.get("tid"))
    if message.topic.startswith(REFUND_PREFIX) and _int(content.get("refund_id")):
        item = work.setdefault(shop.pk, ShopWork(shop))
        item.refunds[_int(content["refund_id"])].append(message)
        if tid:  # a refund step changes its trade's sub-order too
            item.trades[tid].append(message)
        return None
    if message.topic.startswith(TRADE_PREFIX) and tid:
        work.setdefault(shop.pk, ShopWork(shop)).trades[tid].append(message)
        return None
    return IGNORED


def apply_shop(client: TopClient, item: ShopWork, result: PullResult) -> None:
    """Fetch, write and count what the messages of ``item`` point at; ``client`` is the
    app's (one client per app: one limiter, one platform clock)."""
    shop = item.shop
    try:
        trades = fetch_all(client, shop, "trade", list(item.trades), result)
        refunds = fetch_all(client, shop, "refund", list(item.refunds), result)
    except SessionInvalid as error:
        forget_permit(shop)
        mark_needs_reauth(shop, f"TMC fetch: {error}")
        settle(result, SESSION_INVALID, item.messages())
        return
    try:
        written = _write(shop, trades, refunds)
    except Exception:
        log.exception("TMC write for shop %s failed; its messages come back", shop.pk)
        settle(result, FAILED, item.messages())
        return
    # committed: from here on the messages may be confirmed
    _note_written(client, shop, written, result)
    _hold_unsettled(item, trades, refunds, written, result)
    _count_outcomes(item, trades, refunds, result)


@dataclass
class Fetched:
    """The answers of one kind's fetches: by key the record, NOT_THERE, or None when the
    fetch failed; and the keys whose ``modified`` second was not surely over when fetched,
    with the seconds until it is (see :func:`settle_wait`)."""

    records: dict[int, object]
    unsettled: dict[int, float] = field(default_factory=dict)

    def __getitem__(self, key: int) -> object:
        return self.records[key]

    def written(self) -> list[dict]:
        return [r for r in self.records.values() if isinstance(r, dict)]


def _write(shop: Shop, trades: Fetched, refunds: Fetched) -> list:
    """Write the fetched records the sync keeps in one transaction; return the changes.

    A record fetched within its ``modified`` second replaces only an older row: a second
    version of that second may follow, and only a record fetched after the second may
    replace a row of the same second (it is what the platform settled on)."""
    keep = [t for t in trades.written() if _kept_type(t)]
    with transaction.atomic():
        written = write_trades(shop, keep, current=True, unsettled=trades.unsettled).changes
        written += write_refunds(
            shop, refunds.written(), current=True, unsettled=refunds.unsettled
        ).changes
    return written


def _hold_unsettled(
    item: ShopWork, trades: Fetched, refunds: Fetched, written: list, result: PullResult
) -> None:
    """Messages whose record was fetched within its second and changed nothing (a row of
    that second is stored already, perhaps another version of it) wait until the second is
    over and are fetched again; the others are done."""
    changed = {(c.entity, c.key) for c in written}
    for entity, groups, fetched in (
        ("trade", item.trades, trades),
        ("refund", item.refunds, refunds),
    ):
        for key, wait in fetched.unsettled.items():
            if (entity, key) in changed:
                continue
            result.refetches.append(key)
            for message in groups[key]:
                result.later[message.id] = max(wait, result.later.get(message.id, 0.0))


def _note_written(client: TopClient, shop: Shop, written: list, result: PullResult) -> None:
    """Tell the polling side what TMC brought in, and how fresh it was."""
    late.note_pushed(shop, written)  # changes a polling window passed without listing
    now = client.clock.now()
    result.freshness += [(now - c.modified).total_seconds() for c in written]
    if written:
        newest = max(c.modified for c in written)
        note_freshness(shop, newest, (now - newest).total_seconds())


def _count_outcomes(item: ShopWork, trades: Fetched, refunds: Fetched, result: PullResult) -> None:
    """Each message's outcome, to be confirmed; those whose fetch failed come back, those
    held for a settled fetch are counted when it is done."""
    failed = {m.id for key, ms in item.trades.items() if trades[key] is None for m in ms}
    failed |= {m.id for key, ms in item.refunds.items() if refunds[key] is None for m in ms}
    for message_id, outcome in outcomes(item, trades, refunds).items():
        if message_id not in failed and message_id not in result.later:
            result.outcomes[outcome] += 1
            result.confirmed.append(message_id)
    if failed:
        result.outcomes[FAILED] += len(failed)


def outcomes(item: ShopWork, trades: Fetched, refunds: Fetched) -> dict[int, str]:
    """The outcome of each message of ``item`` (first message per key: its fetch's)."""
    outcomes: dict[int, str] = {}
    for groups, fetched in ((item.trades, trades), (item.refunds, refunds)):
        for key, messages in groups.items():
            value = fetched[key]
            first = (
                NOT_FOUND
                if value is NOT_THERE
                else FILTERED
                if isinstance(value, dict) and "tid" in value and not _kept_type(value)
                else WRITTEN
            )
            for index, message in enumerate(messages):
                outcome = first if index == 0 else COLLAPSED
                # a refund message also filed under its trade keeps its refund outcome
                if outcomes.get(message.id) not in (None, COLLAPSED):
                    continue
                outcomes[message.id] = outcome
    return outcomes


def settle(result: PullResult, outcome: str, ids: set[int]) -> None:
    result.outcomes[outcome] += len(ids)
    if outcome != FAILED:
        result.confirmed += sorted(ids)


def fetch_all(
    client: TopClient, shop: Shop, kind: str, keys: list[int], result: PullResult
) -> Fetched:
    """Fetch each key once, at once: its record, NOT_THERE, or None when the fetch failed.

    Up to ``TMC_FETCH_CONCURRENCY`` threads, each fetching a share of the keys and closing
    its database connection (the limiter's) when done."""
    fetch = _fetch_trade if kind == "trade" else _fetch_refund
    client = client_for_shop(shop, client)  # the shared budget is fair between shops

    def one(key: int) -> tuple[object, float]:
        try:
            asked_at = client.clock.now()
            record = fetch(client, shop, key)
        except SessionInvalid:
            raise
        except InvalidRequest as error:  # no such trade/refund (any more)
            log.info("TMC %s %s of shop %s: %s", kind, key, shop.pk, error)
            return NOT_THERE, 0.0
        except TopError as error:
            log.warning("TMC fetch of %s %s (shop %s) failed: %s", kind, key, shop.pk, error)
            return None, 0.0
        return record, settle_wait(parse_time(record.get("modified")), asked_at)

    def share(chunk: list[int]) -> list[tuple[int, tuple[object, float]]]:
        try:
            return [(key, one(key)) for key in chunk]
        finally:
            close_state_connection()

    fetched = Fetched({})
    if not keys:
        return fetched
    result.fetches[kind] += len(keys)
    threads = min(settings.TMC_FETCH_CONCURRENCY, len(keys))
    chunks = [keys[i::threads] for i in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        for key, (record, wait) in (pair for pairs in pool.map(share, chunks) for pair in pairs):
            fetched.records[key] = record
            if wait > 0:
                fetched.unsettled[key] = min(wait, MAX_SETTLE_WAIT)
    return fetched


def _fetch_trade(client: TopClient, shop: Shop, tid: int) -> dict:
    return api.trade_fullinfo_get(client, shop.session_key, tid, TRADE_FIELDS)


def _fetch_refund(client: TopClient, shop: Shop, refund_id: int) -> dict:
    return api.refund_get(client, shop.session_key, refund_id, REFUND_FIELDS)


def settle_wait(modified: datetime | None, now: datetime) -> float:
    """Seconds until the platform second of ``modified`` is surely over.

    ``modified`` has one-second resolution. Two changes of a trade within one second share
    it, and a record fetched within its second may be the first of them; only a record
    fetched after the second may replace a stored row of the same second (the write path's
    settled keys), or the feed could show the second version moving back to the first.
    The second is over at ``modified`` + 1 s, plus ``TMC_SETTLE_MARGIN_SECONDS`` for the
    error of our estimate of platform time."""
    if modified is None:
        return 0.0
    ready = modified.timestamp() + 1.0 + settings.TMC_SETTLE_MARGIN_SECONDS
    return ready - now.timestamp()


def trade_key(message: TmcMessage) -> int | None:
    """The tid a trade or refund message is about (None for other topics)."""
    if message.topic.startswith((TRADE_PREFIX, REFUND_PREFIX)):
        return _int(message.content.get("tid"))
    return None


def _kept_type(trade: dict) -> bool:
    return (trade.get("type") or "") in settings.SYNC_TRADE_TYPES


def _int(value: object) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
