"""The second channel: TMC messages bring changed trades in within seconds.

TMC is at-least-once, unordered and incomplete (docs/platform.md §7.7), so a message is only a
hint: "trade T of seller S changed". For each pull the consumer collapses the messages per
trade and per refund, fetches the current state (``trade.fullinfo.get``, ``refund.get``),
writes it through the sync engine's write path (monotonic by ``modified``, change feed and
outbox in the same transaction) and confirms the messages only after that transaction
committed. A crash anywhere before the confirm leaves the messages unconfirmed: the platform
hands them out again after its visibility timeout, and writing the same state twice is
harmless. Polling, its cursor and the reconcile do not depend on any of this.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from ordersync.taobao import api
from ordersync.taobao.api import TmcMessage
from ordersync.taobao.client import TopClient
from ordersync.taobao.errors import InvalidRequest, SessionInvalid, TopError
from ordersync.taobao.store import client_for, close_state_connection
from ordersync.taobao.types import parse_time
from shops.actions import mark_needs_reauth
from shops.models import Shop, TopApp
from shops.top import app_credentials, client_for_shop
from trades.sync import late
from trades.sync.streams import REFUND_FIELDS, TRADE_FIELDS
from trades.sync.write import write_refunds, write_trades
from trades.tmc.models import TmcShop, TmcStat

log = logging.getLogger(__name__)

TRADE_PREFIX = "taobao_trade_"
REFUND_PREFIX = "taobao_refund_"
AUTH_CANCEL = "taobao_top_AuthCancel"
CONFIRM_CHUNK = 200  # taobao.tmc.messages.confirm takes at most 200 ids
GROUP_ADD_CHUNK = 200  # taobao.tmc.group.add takes at most 200 nicks
DEFAULT_GROUP = "default"  # where the platform queues a seller not added to a group
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


@dataclass
class PullResult:
    received: int = 0
    confirmed: list[int] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)
    fetches: Counter = field(default_factory=Counter)
    freshness: list[float] = field(default_factory=list)
    refetches: list[int] = field(default_factory=list)
    confirm_lags: list[float] = field(default_factory=list)


class Consumer:
    """Pulls one app's TMC group and applies it; ``run`` loops until ``stop`` is set."""

    def __init__(
        self,
        app: TopApp,
        *,
        group: str | None = None,
        client: TopClient | None = None,
        quantity: int | None = None,
        collapse_seconds: float | None = None,
    ) -> None:
        self.app = app
        self.group = check_group(group or settings.TMC_GROUP)
        self.client = client or _app_client(app)
        self.quantity = quantity or settings.TMC_CONSUME_QUANTITY
        self.collapse_seconds = (
            settings.TMC_COLLAPSE_SECONDS if collapse_seconds is None else collapse_seconds
        )
        # consumed, not yet due: message id → (message, monotonic time it is due)
        self.held: dict[int, tuple[TmcMessage, float]] = {}

    # --- the loop -------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Permit shops, then pull and apply until ``stop``; an error waits and retries."""
        next_permit = 0.0
        grouped = False
        failures = 0
        while not stop.is_set():
            try:
                close_old_connections()  # a long-lived process: drop broken or aged ones
                if not grouped:
                    # Shops permitted by an earlier run (maybe under another group) join ours.
                    join_group(self.app, self.client, self.group)
                    grouped = True
                if time.monotonic() >= next_permit:
                    permit_shops(self.app, self.client, group=self.group)
                    next_permit = time.monotonic() + settings.TMC_PERMIT_REFRESH_SECONDS
                result = self.pull_once()
                failures = 0
            except Exception:
                failures += 1
                delay = min(30.0, 0.5 * 2**failures)
                log.exception("TMC pull of app %s failed; again in %.1fs", self.app.app_key, delay)
                stop.wait(delay)
                continue
            if not result.received:
                stop.wait(min(settings.TMC_IDLE_SECONDS, self.next_due_in() or 1e9))
        self.finish()

    def finish(self) -> None:
        """On a graceful stop: apply the held messages once due (a few seconds at most);
        whatever fails is redelivered to the next consumer."""
        deadline = time.monotonic() + MAX_SETTLE_WAIT + 1
        try:
            while self.held and time.monotonic() < deadline:
                time.sleep(self.next_due_in())
                due = self.due(time.monotonic())
                if due:
                    result = PullResult()
                    self.apply(due, result)
                    record_stats(self.app.app_key, result)
        except Exception:
            log.exception("TMC: the last held messages of app %s come back", self.app.app_key)

    def pull_once(self) -> PullResult:
        """One pull: consume into the held messages, then fetch, write and confirm those due.
        Return what happened."""
        messages = api.tmc_messages_consume(self.client, group=self.group, quantity=self.quantity)
        self.hold(messages)
        result = PullResult(received=len(messages))
        due = self.due(time.monotonic())
        if due:
            self.apply(due, result)
        if messages or due:
            record_stats(self.app.app_key, result)
        return result

    def hold(self, messages: list[TmcMessage]) -> None:
        """Keep new messages until due: their trade's ``modified`` second is over (see
        :func:`settle_wait`) and they waited ``TMC_COLLAPSE_SECONDS``, so that the messages
        of a burst collapse into one fetch. A redelivery of a held message adds nothing."""
        now, monotonic = self.client.clock.now(), time.monotonic()
        for message in messages:
            if message.id in self.held:
                continue
            wait = 0.0
            if _trade_key(message) is not None:
                settle = min(MAX_SETTLE_WAIT, settle_wait(message.pub_time, now))
                wait = max(self.collapse_seconds, settle)
            self.held[message.id] = (message, monotonic + wait)

    def due(self, monotonic: float) -> list[TmcMessage]:
        """Take the held messages that are due: each waits for the newest of its trade."""
        latest: dict[int, float] = {}
        for message, due_at in self.held.values():
            key = _trade_key(message)
            if key is not None:
                latest[key] = max(latest.get(key, 0.0), due_at)
        due = [
            message
            for message, due_at in self.held.values()
            if latest.get(_trade_key(message), due_at) <= monotonic
        ]
        for message in due:
            del self.held[message.id]
        return due

    def next_due_in(self) -> float:
        """Seconds until the next held message is due (0 when none is held)."""
        if not self.held:
            return 0.0
        return max(0.0, min(at for _, at in self.held.values()) - time.monotonic())

    # --- one batch ------------------------------------------------------------------------
    def apply(self, messages: list[TmcMessage], result: PullResult) -> None:
        """Write what ``messages`` point at, then confirm those that are done."""
        shops = self._shops_of(messages)
        work: dict[int, ShopWork] = {}
        for message in messages:
            shop = shops.get(message.user_id) or shops.get(message.user_nick)
            outcome = self._triage(message, shop, work)
            if outcome is not None:
                result.outcomes[outcome] += 1
                result.confirmed.append(message.id)
        for item in work.values():
            self._apply_shop(item, result)
        self._confirm(messages, result)

    def _triage(self, message: TmcMessage, shop: Shop | None, work: dict) -> str | None:
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

    def _apply_shop(self, item: ShopWork, result: PullResult) -> None:
        shop = item.shop
        client = self.client  # one client per app: one limiter, one platform clock
        try:
            trades = self._fetch_all(client, shop, "trade", list(item.trades), result)
            refunds = self._fetch_all(client, shop, "refund", list(item.refunds), result)
        except SessionInvalid as error:
            forget_permit(shop)
            mark_needs_reauth(shop, f"TMC fetch: {error}")
            self._settle(item, result, SESSION_INVALID, item.messages())
            return
        failed = {m.id for key, ms in item.trades.items() if trades[key] is None for m in ms}
        failed |= {m.id for key, ms in item.refunds.items() if refunds[key] is None for m in ms}
        found = [t for t in trades.values() if isinstance(t, dict)]
        keep = [t for t in found if _kept_type(t)]
        try:
            with transaction.atomic():
                written = write_trades(shop, keep, current=True).changes
                written += write_refunds(
                    shop, [r for r in refunds.values() if isinstance(r, dict)], current=True
                ).changes
        except Exception:
            log.exception("TMC write for shop %s failed; its messages come back", shop.pk)
            self._settle(item, result, FAILED, item.messages())
            return
        # committed: from here on the messages may be confirmed
        late.note_pushed(shop, written)  # changes a polling window passed without listing
        now = self.client.clock.now()
        result.freshness += [(now - c.modified).total_seconds() for c in written]
        if written:
            newest = max(c.modified for c in written)
            _note_freshness(shop, newest, (now - newest).total_seconds())
        outcomes = self._outcomes(item, trades, refunds)
        for message_id, outcome in outcomes.items():
            if message_id in failed:
                continue
            result.outcomes[outcome] += 1
            result.confirmed.append(message_id)
        if failed:
            result.outcomes[FAILED] += len(failed)

    def _outcomes(self, item: ShopWork, trades: dict, refunds: dict) -> dict[int, str]:
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

    def _settle(self, item: ShopWork, result: PullResult, outcome: str, ids: set[int]) -> None:
        result.outcomes[outcome] += len(ids)
        if outcome != FAILED:
            result.confirmed += sorted(ids)

    def _fetch_all(
        self, client: TopClient, shop: Shop, kind: str, keys: list[int], result: PullResult
    ) -> dict[int, object]:
        """Fetch each key: the record, NOT_THERE, or None when the fetch failed.

        Up to ``TMC_FETCH_CONCURRENCY`` threads, each fetching a share of the keys and closing
        its database connection (the limiter's) when done."""
        fetch = _fetch_trade if kind == "trade" else _fetch_refund
        client = client_for_shop(shop, client)  # the shared budget is fair between shops

        def one(key: int):
            try:
                return self._settled(fetch, client, shop, key, result)
            except SessionInvalid:
                raise
            except InvalidRequest as error:  # no such trade/refund (any more)
                log.info("TMC %s %s of shop %s: %s", kind, key, shop.pk, error)
                return NOT_THERE
            except TopError as error:
                log.warning("TMC fetch of %s %s (shop %s) failed: %s", kind, key, shop.pk, error)
                return None

        def share(chunk: list[int]) -> list[tuple[int, object]]:
            try:
                return [(key, one(key)) for key in chunk]
            finally:
                close_state_connection()

        if not keys:
            return {}
        result.fetches[kind] += len(keys)
        threads = min(settings.TMC_FETCH_CONCURRENCY, len(keys))
        chunks = [keys[i::threads] for i in range(threads)]
        with ThreadPoolExecutor(threads) as pool:
            return dict(pair for pairs in pool.map(share, chunks) for pair in pairs)

    def _settled(self, fetch, client: TopClient, shop: Shop, key: int, result: PullResult):
        """Fetch a record whose ``modified`` second is over (see :func:`settle_wait`); None
        if it keeps changing (its messages come back later)."""
        for _ in range(3):
            asked_at = client.clock.now()
            record = fetch(client, shop, key)
            wait = settle_wait(parse_time(record.get("modified")), asked_at)
            if wait <= 0:
                return record
            result.refetches.append(key)
            time.sleep(min(wait, MAX_SETTLE_WAIT))
        return None

    def _confirm(self, messages: list[TmcMessage], result: PullResult) -> None:
        ids = list(dict.fromkeys(result.confirmed))
        if not ids:
            return
        for start in range(0, len(ids), CONFIRM_CHUNK):
            api.tmc_messages_confirm(
                self.client, ids[start : start + CONFIRM_CHUNK], group=self.group
            )
        now = self.client.clock.now()
        published = {m.id: m.pub_time for m in messages}
        result.confirm_lags += [
            (now - published[i]).total_seconds() for i in ids if published.get(i) is not None
        ]

    # --- lookups --------------------------------------------------------------------------
    def _shops_of(self, messages: list[TmcMessage]) -> dict:
        """Shops of this app for the messages' sellers, by seller id and by nick."""
        ids = {m.user_id for m in messages if m.user_id}
        nicks = {m.user_nick for m in messages if not m.user_id and m.user_nick}
        shops = Shop.objects.filter(app=self.app).filter(
            Q(seller_id__in=ids) | Q(seller_nick__in=nicks)
        )
        found: dict = {}
        for shop in shops:
            found[shop.seller_id] = shop
            found[shop.seller_nick] = shop
        return found


def _fetch_trade(client: TopClient, shop: Shop, tid: int) -> dict:
    return api.trade_fullinfo_get(client, shop.session_key, tid, TRADE_FIELDS)


def _fetch_refund(client: TopClient, shop: Shop, refund_id: int) -> dict:
    return api.refund_get(client, shop.session_key, refund_id, REFUND_FIELDS)


def settle_wait(modified: datetime | None, now: datetime) -> float:
    """Seconds until the platform second of ``modified`` is surely over.

    ``modified`` has one-second resolution and the write path only replaces a row by a
    strictly newer ``modified``. Two changes of a trade within one second share it, so if
    we stored the first, the second could never replace it (and polling, reading it later
    with the same ``modified``, could not either). So a record is only taken once its second
    has passed: ``modified`` + 1 s, plus ``TMC_SETTLE_MARGIN_SECONDS`` for the error of our
    estimate of platform time."""
    if modified is None:
        return 0.0
    ready = modified.timestamp() + 1.0 + settings.TMC_SETTLE_MARGIN_SECONDS
    return ready - now.timestamp()


def _trade_key(message: TmcMessage) -> int | None:
    """The tid a trade or refund message is about (None for other topics)."""
    if message.topic.startswith((TRADE_PREFIX, REFUND_PREFIX)):
        return _int(message.content.get("tid"))
    return None


def _kept_type(trade: dict) -> bool:
    return (trade.get("type") or "") in settings.SYNC_TRADE_TYPES


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _app_client(app: TopApp) -> TopClient:
    return client_for(app_credentials(app), calls_per_minute=app.calls_per_minute)


# --- permits ------------------------------------------------------------------------------
def permit_shops(
    app: TopApp,
    client: TopClient,
    shops: Iterable[Shop] | None = None,
    *,
    group: str = DEFAULT_GROUP,
) -> int:
    """Call ``taobao.tmc.user.permit`` for each active shop of ``app`` not yet permitted
    (all of them the first time) and put them in ``group``; return how many were
    permitted."""
    if shops is None:
        shops = Shop.objects.filter(app=app, status=Shop.Status.ACTIVE).exclude(
            tmc__permitted_at__isnull=False
        )
    permitted = []
    for shop in shops:
        try:
            api.tmc_user_permit(client_for_shop(shop, client), shop.session_key)
        except SessionInvalid as error:
            mark_needs_reauth(shop, f"TMC permit: {error}")
            continue
        except TopError as error:
            log.warning("TMC permit of shop %s failed (retried later): %s", shop.pk, error)
            continue
        TmcShop.objects.update_or_create(shop=shop, defaults={"permitted_at": timezone.now()})
        permitted.append(shop)
    if permitted:
        log.info("TMC: permitted %d shops of app %s", len(permitted), app.app_key)
        join_group(app, client, group, permitted)
    return len(permitted)


def check_group(group: str) -> str:
    """Refuse a group name the platform would refuse (tmc/taobao_tmc_group_add.json), at
    start rather than at every permit round."""
    if group != DEFAULT_GROUP and (group.startswith(DEFAULT_GROUP) or len(group) > 32):
        raise ValueError(f"TMC group {group!r}: at most 32 characters, not starting 'default'")
    return group


def join_group(
    app: TopApp, client: TopClient, group: str, shops: Iterable[Shop] | None = None
) -> int:
    """Put permitted shops (all active permitted shops of ``app`` by default) in the TMC
    ``group`` with ``taobao.tmc.group.add``; return how many joined.

    The platform queues a permitted seller's messages in the group ``default`` until the
    seller is added to a named group, so a consumer of any other group would get nothing.
    A chunk the platform refuses has its permits cleared: the next permit round permits
    those shops again and retries (meanwhile polling still brings their changes)."""
    if group == DEFAULT_GROUP:
        return 0
    if shops is None:
        shops = Shop.objects.filter(
            app=app, status=Shop.Status.ACTIVE, tmc__permitted_at__isnull=False
        )
    shops = list(shops)
    joined = 0
    for start in range(0, len(shops), GROUP_ADD_CHUNK):
        chunk = shops[start : start + GROUP_ADD_CHUNK]
        try:
            api.tmc_group_add(client, group, [shop.seller_nick for shop in chunk])
        except TopError as error:
            log.warning("TMC group %s: adding %d shops failed: %s", group, len(chunk), error)
            TmcShop.objects.filter(shop__in=chunk).update(permitted_at=None)
            continue
        joined += len(chunk)
    return joined


def forget_permit(shop: Shop) -> None:
    """The platform dropped the shop's subscription (revoked): permit again once active."""
    TmcShop.objects.filter(shop=shop).update(permitted_at=None)


def _note_freshness(shop: Shop, modified: datetime, seconds: float) -> None:
    TmcShop.objects.update_or_create(
        shop=shop,
        defaults={
            "last_message_at": timezone.now(),
            "last_change_modified": modified,
            "freshness_seconds": round(seconds, 3),
        },
    )


# --- counters -----------------------------------------------------------------------------
def record_stats(app_key: str, result: PullResult) -> None:
    """Add one pull's counts to the shared ``TmcStat`` rows (one statement)."""
    values: dict[str, float] = {"messages:received": result.received}
    for outcome, n in result.outcomes.items():
        values[f"messages:{outcome}"] = n
    for kind, n in result.fetches.items():
        values[f"fetches:{kind}"] = n
    if result.refetches:
        values["fetches:refetch"] = len(result.refetches)
    for name, samples in (
        ("confirm_lag_seconds", result.confirm_lags),
        ("freshness_seconds", result.freshness),
    ):
        if samples:
            values[f"{name}:sum"] = sum(samples)
            values[f"{name}:count"] = len(samples)
    names = sorted(values)
    table = TmcStat._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (app_key, name, value)
            SELECT %s, n, v FROM unnest(%s::text[], %s::float8[]) AS u(n, v)
            ON CONFLICT (app_key, name) DO UPDATE SET value = {table}.value + EXCLUDED.value
            """,
            [app_key, names, [float(values[n]) for n in names]],
        )


def counters(app_key: str) -> dict[str, float]:
    return dict(TmcStat.objects.filter(app_key=app_key).values_list("name", "value"))
