"""The market's data: sellers, trades with their version history, refunds, and the indexes
the list APIs read.

Every change to a trade appends a :class:`Version` (an immutable snapshot). A version made at
platform time T becomes visible to the list APIs at ``visible_at`` (T + the lag in force when
it was made); until then the lists keep showing the previous version. ``trade.fullinfo.get``
always reads the newest version.

Refunds keep a version history the same way (:class:`RefundVersion`): ``refunds.receive.get``
shows each refund's last visible version, ``refund.get`` the newest.
"""

from __future__ import annotations

import bisect
import heapq
import random
from dataclasses import dataclass, field

from ordersync.sandbox.clock import fmt
from ordersync.sandbox.logistics import LogisticsMix
from ordersync.sandbox.presale import PresaleMix
from ordersync.sandbox.records import freeze, thaw
from ordersync.sandbox.stock import Stock

DAY = 86400
INFINITY = float("inf")
SCOPE_SECONDS = 90 * DAY  # trade APIs see only the last 3 months

TERMINAL = frozenset({"TRADE_FINISHED", "TRADE_CLOSED", "TRADE_CLOSED_BY_TAOBAO"})
DEFAULT_TYPES = frozenset({"fixed", "auction", "auto_delivery", "ec", "cod", "step"})
ALL_TYPES = DEFAULT_TYPES | {"tmall_i18n", "o2o_offlinetrade", "nopaid", "fenxiao", "eticket"}
# refunds.receive.get without ``type`` lists refunds of guarantee_trade (fixed, auction) and
# auto_delivery trades only (docs/platform.md §4.8: "type (default guarantee_trade, auto_delivery)")
REFUND_DEFAULT_TYPES = frozenset({"fixed", "auction", "auto_delivery"})
# Orders the refund list can be sorted in: the platform does not document its order
# (docs/platform.md §4.8, UNCONFIRMED), so the ``refund_order`` fault picks one.
REFUND_ORDERS = ("modified_desc", "created_asc")
TRADE_STATUSES = frozenset(
    {
        "TRADE_NO_CREATE_PAY",
        "WAIT_BUYER_PAY",
        "SELLER_CONSIGNED_PART",
        "WAIT_SELLER_SEND_GOODS",
        "WAIT_BUYER_CONFIRM_GOODS",
        "TRADE_BUYER_SIGNED",
        "TRADE_FINISHED",
        "TRADE_CLOSED",
        "TRADE_CLOSED_BY_TAOBAO",
        "PAY_PENDING",
        "WAIT_PRE_AUTH_CONFIRM",
        "PAID_FORBID_CONSIGN",
    }
)
STATUS_GROUPS = {
    "ALL_WAIT_PAY": frozenset({"WAIT_BUYER_PAY", "TRADE_NO_CREATE_PAY"}),
    "ALL_CLOSED": frozenset({"TRADE_CLOSED", "TRADE_CLOSED_BY_TAOBAO"}),
}
# Legal status moves of a trade (a change may also keep the status, e.g. a memo edit).
LEGAL_MOVES = {
    "WAIT_BUYER_PAY": {"WAIT_SELLER_SEND_GOODS", "TRADE_CLOSED_BY_TAOBAO"},
    "WAIT_SELLER_SEND_GOODS": {"SELLER_CONSIGNED_PART", "WAIT_BUYER_CONFIRM_GOODS", "TRADE_CLOSED"},
    "SELLER_CONSIGNED_PART": {"WAIT_BUYER_CONFIRM_GOODS", "TRADE_CLOSED"},
    "WAIT_BUYER_CONFIRM_GOODS": {"TRADE_BUYER_SIGNED", "TRADE_FINISHED", "TRADE_CLOSED"},
    "TRADE_BUYER_SIGNED": {"TRADE_FINISHED"},
    "TRADE_FINISHED": set(),
    "TRADE_CLOSED": set(),
    "TRADE_CLOSED_BY_TAOBAO": set(),
}
REFUND_OPEN = frozenset(
    {"WAIT_SELLER_AGREE", "WAIT_BUYER_RETURN_GOODS", "WAIT_SELLER_CONFIRM_GOODS"}
)
REFUND_MOVES = {
    "WAIT_SELLER_AGREE": {"WAIT_BUYER_RETURN_GOODS", "SUCCESS", "SELLER_REFUSE_BUYER", "CLOSED"},
    "WAIT_BUYER_RETURN_GOODS": {"WAIT_SELLER_CONFIRM_GOODS", "CLOSED"},
    "WAIT_SELLER_CONFIRM_GOODS": {"SUCCESS"},
    "SELLER_REFUSE_BUYER": {"CLOSED"},
    "SUCCESS": set(),
    "CLOSED": set(),
}


class Version:
    """One immutable state of a trade. ``data`` is the full trade as fullinfo renders it
    (rebuilt from ``frozen`` at each read); ``made_at`` is the platform time of the change to
    the fraction of a second (``modified`` keeps whole seconds only, as on the wire)."""

    __slots__ = (
        "trade",
        "modified",
        "made_at",
        "visible_at",
        "stamped_at",
        "hidden_at",
        "status",
        "type",
        "created",
        "frozen",
        "encoded",
    )

    def __init__(
        self,
        trade: TradeRecord,
        modified: int,
        visible_at: int,
        data: dict,
        made_at: float = 0.0,
        previous: Version | None = None,
    ) -> None:
        self.trade = trade
        self.modified = modified
        self.made_at = max(made_at, modified)  # a version of a past second: made in it
        self.visible_at = visible_at
        self.stamped_at = visible_at  # its async_modified (see Seller.stamp_early)
        self.hidden_at = INFINITY  # when the next version becomes visible and replaces this one
        self.status = data["status"]
        self.type = trade.type
        self.created = trade.created
        self.frozen = freeze(data, previous.frozen if previous is not None else None)
        # JSON fragments of this version, by projection (None until a list renders it:
        # most versions of a large history are never read)
        self.encoded: dict | None = None

    @property
    def data(self) -> dict:
        return thaw(self.frozen)

    @data.setter
    def data(self, value: dict) -> None:  # snapshots saved before versions were frozen
        self.frozen = freeze(value)

    def fragments(self) -> dict:
        """The JSON fragment cache of this version (made on first use)."""
        if self.encoded is None:
            self.encoded = {}
        return self.encoded


class TradeRecord:
    """A trade: its working state (``state``) and every version published so far."""

    __slots__ = ("tid", "nick", "created", "type", "buyer_nick", "working", "versions")

    def __init__(self, tid: int, nick: str, created: int, state: dict) -> None:
        self.tid = tid
        self.nick = nick
        self.created = created
        self.type = state["type"]
        self.buyer_nick = state["buyer_nick"]
        self.working: dict | None = state
        self.versions: list[Version] = []

    @property
    def state(self) -> dict:
        """The working state: what the next version will snapshot. Between changes it
        equals the newest version, so a resting trade keeps none (:meth:`rest`)."""
        if self.working is None:
            self.working = self.versions[-1].data
        return self.working

    @state.setter
    def state(self, value: dict) -> None:  # snapshots saved before trades could rest
        self.working = value

    def rest(self) -> None:
        """Drop the working state (rebuilt from the newest version when next needed)."""
        if self.versions:
            self.working = None

    @property
    def current(self) -> Version:
        return self.versions[-1]

    def visible(self, now: float) -> Version | None:
        """Return the version the list APIs show at ``now`` (None: not yet visible)."""
        for version in reversed(self.versions):
            if version.visible_at <= now:
                return version
        return None

    def open_refund_oids(self) -> list[int]:
        return [o["oid"] for o in self.state["orders"] if o["refund_status"] in REFUND_OPEN]


class RefundVersion:
    """One immutable state of a refund, visible to the refund list from ``visible_at``."""

    __slots__ = ("refund", "modified", "visible_at", "hidden_at", "status", "frozen")

    def __init__(self, refund: Refund, modified: int, visible_at: int, data: dict) -> None:
        self.refund = refund
        self.modified = modified
        self.visible_at = visible_at
        self.hidden_at = INFINITY
        self.data = data

    @property
    def data(self) -> dict:
        return thaw(self.frozen)

    @data.setter
    def data(self, value: dict) -> None:
        self.status = value["status"]
        self.frozen = freeze(value)


@dataclass
class Refund:
    """A refund: its working state (``data``, what ``refund.get`` shows) and its versions."""

    refund_id: str
    tid: int
    oid: int
    nick: str
    data: dict
    modified: int = 0
    history: list[tuple[str, int]] = field(default_factory=list)
    type: str = "fixed"  # the type of its trade: the refund list filters on it
    created: int = 0
    versions: list[RefundVersion] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.data["status"]

    def visible(self, now: float) -> RefundVersion | None:
        """Return the version the refund list shows at ``now`` (None: not yet visible)."""
        for version in reversed(self.versions):
            if version.visible_at <= now:
                return version
        return None


class SortedIndex:
    """Versions kept sorted by one integer key (insert is O(n) memmove, reads are bisect)."""

    def __init__(self) -> None:
        self.keys: list[int] = []
        self.items: list[Version] = []

    def add(self, key: int, item: Version, bulk: bool = False) -> None:
        if bulk or not self.keys or key >= self.keys[-1]:
            self.keys.append(key)
            self.items.append(item)
            return
        at = bisect.bisect_right(self.keys, key)
        self.keys.insert(at, key)
        self.items.insert(at, item)

    def resort(self) -> None:
        """Restore the order after bulk appends (stable: equal keys keep insertion order)."""
        order = sorted(range(len(self.keys)), key=self.keys.__getitem__)
        self.keys = [self.keys[i] for i in order]
        self.items = [self.items[i] for i in order]

    def between(self, start: int, end: int) -> list[Version]:
        """Items with start <= key <= end, in ascending key order."""
        lo = bisect.bisect_left(self.keys, start)
        hi = bisect.bisect_right(self.keys, end)
        return self.items[lo:hi]

    def remove(self, key: int, item: Version) -> None:
        """Remove ``item`` (filed under ``key``); the others keep their order."""
        lo = bisect.bisect_left(self.keys, key)
        hi = bisect.bisect_right(self.keys, key)
        for at in range(lo, hi):
            if self.items[at] is item:
                del self.keys[at]
                del self.items[at]
                return


@dataclass
class MarketRates:
    trades_per_minute: float = 0.0
    changes_per_minute: float = 0.0
    refunds_per_minute: float = 0.0
    owed_trades: float = 0.0
    owed_changes: float = 0.0
    owed_refunds: float = 0.0

    @property
    def active(self) -> bool:
        return bool(self.trades_per_minute or self.changes_per_minute or self.refunds_per_minute)


class Seller:
    """One seller's shop: trades, refunds, indexes, and the query cache."""

    # A version's async_modified is stamped this many seconds before it is listed (never
    # before its ``modified``): the ``visible_early_seconds`` fault, kept here by the world.
    stamp_early = 0
    max_stamp_early = 0  # the most any version of the seller was stamped early

    def __init__(self, nick: str, user_id: int, seed: str, tmall: bool = False) -> None:
        self.nick = nick
        self.user_id = user_id
        self.tmall = tmall  # a Tmall (B) shop: JDP pushes its refunds into jdp_tm_refund
        self.rng = random.Random(seed)
        self.trades: dict[int, TradeRecord] = {}
        self.by_created: list[TradeRecord] = []
        self.created_keys: list[int] = []
        self.by_modified = SortedIndex()
        self.by_visible = SortedIndex()
        # by_modified without the versions already replaced in the lists (hidden_at passed):
        # a live world keeps a trade's old versions, and scanning them made every list call
        # of a changing market several times slower. Versions leave it in hidden_at order.
        self.unhidden = SortedIndex()
        self.hide_queue: list[tuple[int, int, Version]] = []  # (hidden_at, seq, version)
        self.hide_seq = 0
        self.pruned_to = -INFINITY  # every version hidden by then has left ``unhidden``
        self.refunds: dict[str, Refund] = {}
        self.open_trades: list[TradeRecord] = []
        self.open_refunds: list[Refund] = []
        self.rates = MarketRates()
        self.presale = PresaleMix()
        self.logistics = LogisticsMix()
        self.generation = 0
        self.bulk = False  # while replaying history: append to the indexes, sort at the end
        self.max_visible_at = 0
        self._cache: dict = {}
        self._cache_generation = -1
        self.list_scans = 0  # lists computed (not answered from the cache), for the benchmark
        self.catalog: list[dict] = []
        self.buyers: list[tuple[str, str]] = []
        self.stock: Stock | None = None  # items and SKU stock (ordersync.sandbox.stock)
        # Called as listener(seller, kind, topic, data, previous) for each live change
        # ("trade" or "refund"); the world publishes TMC messages from it.
        self.listener = None

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if "unhidden" not in state:  # a snapshot saved before this index existed
            self.unhidden = SortedIndex()
            self.unhidden.keys = list(self.by_modified.keys)
            self.unhidden.items = list(self.by_modified.items)
            self.hide_queue, self.hide_seq, self.pruned_to = [], 0, -INFINITY
        self.__dict__.setdefault("list_scans", 0)
        self.__dict__.setdefault("presale", PresaleMix())
        self.__dict__.setdefault("logistics", LogisticsMix())
        self.__dict__.setdefault("stock", None)  # a snapshot from before items
        for refund in self.refunds.values():
            if not getattr(refund, "versions", None):  # a snapshot from before refund versions
                trade = self.trades.get(refund.tid)
                refund.type = trade.type if trade is not None else "fixed"
                refund.created = refund.history[0][1] if refund.history else refund.modified
                refund.versions = [RefundVersion(refund, refund.modified, 0, dict(refund.data))]

    # --- writes ---------------------------------------------------------------------------
    def add_trade(self, trade: TradeRecord) -> None:
        self.trades[trade.tid] = trade
        if not self.created_keys or trade.created >= self.created_keys[-1]:
            self.created_keys.append(trade.created)
            self.by_created.append(trade)
        else:
            at = bisect.bisect_right(self.created_keys, trade.created)
            self.created_keys.insert(at, trade.created)
            self.by_created.insert(at, trade)
        self.open_trades.append(trade)

    def publish(self, trade: TradeRecord, ts: float, lag: int, topic: str | None = None) -> Version:
        """Snapshot ``trade.state`` as a new version made at ``ts``; return it.

        ``topic`` names the TMC message of this change (None: derived from what changed,
        "": no trade message, e.g. a refund step that the refund's own message announces)."""
        previous = trade.versions[-1] if trade.versions else None
        modified = int(ts)
        if previous is not None:
            modified = max(modified, previous.modified)  # modified never goes back
        visible_at = modified + max(0, int(lag))
        if previous is not None:
            visible_at = max(visible_at, previous.visible_at)
        state = trade.state
        state["modified"] = fmt(modified)
        # a version made "in the same second" after another one is not made before it
        made_at = max(ts, getattr(previous, "made_at", 0.0))
        version = Version(trade, modified, visible_at, state, made_at, previous)
        if self.stamp_early:
            version.stamped_at = max(modified, visible_at - self.stamp_early)
            self.max_stamp_early = max(self.max_stamp_early, self.stamp_early)
        if previous is not None:
            previous.hidden_at = visible_at
            if not self.bulk:  # a replayed history fills ``unhidden`` once, in ``resort``
                self.hide_seq += 1
                heapq.heappush(self.hide_queue, (visible_at, self.hide_seq, previous))
        trade.versions.append(version)
        self.by_modified.add(modified, version, self.bulk)
        if not self.bulk:
            self.unhidden.add(modified, version)
        self.by_visible.add(visible_at, version, self.bulk)
        self.max_visible_at = max(self.max_visible_at, visible_at)
        self.generation += 1
        if self.listening():
            self.notify("trade", topic, version.data, previous.data if previous else None)
        return version

    def listening(self) -> bool:
        return getattr(self, "listener", None) is not None and not self.bulk

    def notify(self, kind: str, topic: str | None, data: dict, previous: dict | None) -> None:
        """Tell the listener about a live change (history replays are not announced);
        ``topic`` "" (no TMC message of its own) is told too: the JDP push carries it."""
        if self.listening():
            self.listener(self, kind, topic, data, previous)

    def add_refund(self, refund: Refund) -> None:
        self.refunds[refund.refund_id] = refund
        self.open_refunds.append(refund)
        self.generation += 1

    def publish_refund(
        self, refund: Refund, lag: int, not_before: int = 0, topic: str | None = None
    ) -> RefundVersion:
        """Snapshot ``refund.data`` as a version made at ``refund.modified``; return it.

        It becomes visible to the refund list ``lag`` seconds later (never before the
        previous version, nor before ``not_before``), and the previous version leaves the
        list then. ``topic`` as for :meth:`publish`."""
        previous = refund.versions[-1] if refund.versions else None
        visible_at = max(refund.modified + max(0, int(lag)), int(not_before))
        if previous is not None:
            visible_at = max(visible_at, previous.visible_at)
            previous.hidden_at = visible_at
        version = RefundVersion(refund, refund.modified, visible_at, refund.data)
        refund.versions.append(version)
        self.max_visible_at = max(self.max_visible_at, visible_at)
        self.generation += 1
        if self.listening():
            self.notify("refund", topic, version.data, previous.data if previous else None)
        return version

    def drop_caches(self) -> None:
        self._cache.clear()
        for trade in self.trades.values():
            for version in trade.versions:
                version.encoded = None

    # --- reads ----------------------------------------------------------------------------
    def _cached(self, key: tuple, now: float, compute):
        """The list ``compute()`` makes at ``now``, reused while it stays exact.

        ``compute()`` returns the list and the time until which it holds (exclusive); an
        entry answers from ``now`` on to then, within one generation (no change published).
        The clock going back recomputes: a version may have been visible then and not now."""
        if self._cache_generation != self.generation:
            self._cache.clear()
            self._cache_generation = self.generation
        hit = self._cache.get(key)
        if hit is not None and hit[0] <= now < hit[1]:
            return hit[2]
        if len(self._cache) > 256:
            self._cache.clear()
        items, until = compute()
        self._cache[key] = (now, until, items)
        self.list_scans += 1
        return items

    def list_by_created(self, now, start, end, types, statuses, buyer_nick) -> list[Version]:
        """Visible versions of trades created in [start, end], newest first."""
        start = max(start, int(now) - SCOPE_SECONDS)

        def compute():
            # The list holds until the first newer version of one of its trades becomes
            # visible: a backfill pages a large slice over many seconds, and scanning the
            # slice again each second made every page cost as much as the slice.
            lo = bisect.bisect_left(self.created_keys, start)
            hi = bisect.bisect_right(self.created_keys, end)
            out = []
            until = INFINITY
            for trade in self.by_created[lo:hi]:
                version, changes_at = _visible_until(trade.versions, now)
                if changes_at < until:
                    until = changes_at
                if version is not None and _matches(version, types, statuses, buyer_nick):
                    out.append(version)
            out.reverse()
            return out, until

        # the scope's start is in the key: it moves with the clock, whole seconds at a time
        return self._cached(("created", start, end, types, statuses, buyer_nick), now, compute)

    def prune(self, now: float) -> bool:
        """Drop the versions hidden by ``now`` from ``unhidden``; False if the clock went
        back since the last prune (then ``unhidden`` lacks versions visible at ``now``)."""
        if now < self.pruned_to:
            return False
        queue = self.hide_queue
        while queue and queue[0][0] <= now:
            _, _, version = heapq.heappop(queue)
            self.unhidden.remove(version.modified, version)
        self.pruned_to = now
        return True

    def resort(self, now: float) -> None:
        """Restore the indexes' order after bulk appends (a history replayed up to ``now``),
        and make ``unhidden`` of the versions not yet hidden then: most of a history's
        versions are, and queueing each to be pruned at the first list cost ~300 B a trade."""
        self.by_modified.resort()
        self.by_visible.resort()
        unhidden = SortedIndex()
        for key, version in zip(self.by_modified.keys, self.by_modified.items, strict=True):
            if version.hidden_at > now:
                unhidden.keys.append(key)
                unhidden.items.append(version)
                if version.hidden_at != INFINITY:
                    self.hide_seq += 1
                    heapq.heappush(self.hide_queue, (version.hidden_at, self.hide_seq, version))
        self.unhidden = unhidden
        self.pruned_to = max(self.pruned_to, now)

    def list_by_modified(self, now, start, end, types, statuses, buyer_nick) -> list[Version]:
        """Visible versions whose ``modified`` lies in [start, end], newest first."""

        def compute():
            index = self.unhidden if self.prune(now) else self.by_modified
            return self._scan(index, now, start, end, types, statuses, buyer_nick), _second(now)

        return self._cached(("modified", start, end, types, statuses, buyer_nick), now, compute)

    def list_by_visible(self, now, start, end, types, statuses) -> list[Version]:
        """Visible versions stamped visible (``async_modified``) in [start, end], the most
        recent stamp first."""

        def compute():
            early = self.max_stamp_early
            out = self._scan(self.by_visible, now, start, end + early, types, statuses, None)
            if early:
                out = [v for v in out if start <= stamped(v) <= end]
                out.sort(key=stamped, reverse=True)
            return out, _second(now)

        return self._cached(("visible", start, end, types, statuses), now, compute)

    def _scan(self, index, now, start, end, types, statuses, buyer_nick) -> list[Version]:
        scope = int(now) - SCOPE_SECONDS
        out = [
            v
            for v in index.between(start, end)
            if v.visible_at <= now < v.hidden_at
            and v.created >= scope
            and v.type in types
            and (statuses is None or v.status in statuses)
        ]
        if buyer_nick is not None:
            out = [v for v in out if v.trade.buyer_nick == buyer_nick]
        out.reverse()
        return out

    def refunds_by_modified(
        self, now, start, end, status, types, order: str = "modified_desc"
    ) -> list[RefundVersion]:
        """Visible refund versions whose ``modified`` lies in [start, end], of refunds on
        trades of ``types`` created in the 3-month scope, in ``order`` (REFUND_ORDERS)."""

        def compute():
            # Every refund is scanned: cached until the next version of one becomes visible
            # or one leaves the scope, a backfill's pages no longer scan them all each time.
            scope = int(now) - SCOPE_SECONDS
            out = []
            until = INFINITY
            for refund in self.refunds.values():
                if refund.type not in types or refund.created < scope:
                    continue
                # in the scope while int(now) - SCOPE_SECONDS <= created
                leaves_at = int(refund.created) + SCOPE_SECONDS + 1
                version, changes_at = _visible_until(refund.versions, now)
                until = min(until, leaves_at, changes_at)
                if version is None or not start <= version.modified <= end:
                    continue
                if status is None or version.status == status:
                    out.append(version)
            if order == "created_asc":
                out.sort(key=lambda v: (v.refund.created, int(v.refund.refund_id)))
            else:
                out.sort(key=lambda v: (v.modified, int(v.refund.refund_id)), reverse=True)
            return out, until

        key = ("refunds", start, end, status, types, order)
        return self._cached(key, now, compute)


def _visible_until(versions: list, now: float) -> tuple:
    """The last of ``versions`` visible at ``now`` (None: none yet), and the first time
    after ``now`` at which that changes: the earliest ``visible_at`` of the versions after
    it (INFINITY: none)."""
    changes_at = INFINITY
    for version in reversed(versions):
        if version.visible_at <= now:
            return version, changes_at
        changes_at = min(changes_at, version.visible_at)
    return None, changes_at


def _second(now: float) -> int:
    """The end of ``now``'s second: what a list shows depends on "now" only at whole seconds
    (visible_at, hidden_at and the start of the 3-month scope are whole seconds), so within
    one second and one generation a computed list stays exact."""
    return int(now) + 1


def stamped(version: Version) -> int:
    """The version's ``async_modified`` (a version of an older snapshot: when listed)."""
    return getattr(version, "stamped_at", version.visible_at)


def _matches(version: Version, types, statuses, buyer_nick) -> bool:
    trade = version.trade
    if trade.type not in types:
        return False
    if statuses is not None and version.status not in statuses:
        return False
    return buyer_nick is None or trade.buyer_nick == buyer_nick
