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

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q

from ordersync.taobao import api
from ordersync.taobao.api import TmcMessage
from ordersync.taobao.client import TopClient
from shops.models import Shop, TopApp
from shops.top import client_for_app
from trades.tmc.apply import MAX_SETTLE_WAIT, ShopWork, apply_shop, trade_key, triage
from trades.tmc.permits import check_group, join_group, permit_shops
from trades.tmc.stats import PullResult, record_stats

log = logging.getLogger("trades.tmc")

CONFIRM_CHUNK = 200  # taobao.tmc.messages.confirm takes at most 200 ids


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
        self.client = client or client_for_app(app)
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
        """Keep new messages until due: they waited ``TMC_COLLAPSE_SECONDS``, so that the
        messages of a burst collapse into one fetch. A redelivery of a held message adds
        nothing."""
        monotonic = time.monotonic()
        for message in messages:
            if message.id in self.held:
                continue
            wait = self.collapse_seconds if trade_key(message) is not None else 0.0
            self.held[message.id] = (message, monotonic + wait)

    def hold_again(self, messages: list[TmcMessage], later: dict[int, float]) -> None:
        """Hold the messages whose record was fetched within its second and changed nothing
        until that second is over (``later``: seconds by message id)."""
        monotonic = time.monotonic()
        for message in messages:
            if message.id in later:
                self.held[message.id] = (message, monotonic + later[message.id])

    def due(self, monotonic: float) -> list[TmcMessage]:
        """Take the held messages that are due: each waits for the newest of its trade."""
        latest: dict[int, float] = {}
        for message, due_at in self.held.values():
            key = trade_key(message)
            if key is not None:
                latest[key] = max(latest.get(key, 0.0), due_at)
        due = [
            message
            for message, due_at in self.held.values()
            if latest.get(trade_key(message), due_at) <= monotonic
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
            outcome = triage(message, shop, work)
            if outcome is not None:
                result.outcomes[outcome] += 1
                result.confirmed.append(message.id)
        for item in work.values():
            apply_shop(self.client, item, result)
        self.hold_again(messages, result.later)
        self._confirm(messages, result)

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
