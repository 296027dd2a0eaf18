"""The sandbox's ground truth against a store, by content: one comparison for the tests and
the benchmarks.

The sandbox's ``/_sandbox/oracle/{trades,refunds}`` gives, for every trade and refund, the
hash of its whole current record as ``trade.fullinfo.get`` / ``taobao.refund.get`` render it
with the fields the engine asks for, and when that version became visible to the list APIs.
A stored record is current only when the hash of the stored wire record (the ``payload``
column, or a naive store's dict) is the same: status and ``modified`` alone miss a record
stored from an incomplete list entry, or the wrong one of two same-second versions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from ordersync.sandbox.fields import refund_content, trade_content
from ordersync.taobao.types import parse_time
from trades.models import Refund, Trade
from trades.sync.fields import REFUND_FIELDS, TRADE_FIELDS


@dataclass(frozen=True)
class Kind:
    name: str  # the oracle's path and its list key
    key: str
    fields: str
    content: Callable[[dict, str], str]
    model: type


TRADES = Kind("trades", "tid", TRADE_FIELDS, trade_content, Trade)
REFUNDS = Kind("refunds", "refund_id", REFUND_FIELDS, refund_content, Refund)
KINDS = (TRADES, REFUNDS)


@dataclass
class Diff:
    """How one store differs from the truth, by key: never stored, stored but not the
    current content, stored but unknown to the platform; and how many records were due."""

    kind: str
    checked: int = 0
    missing: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)
    extra: list[int] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)  # a few lost records, what differs

    @property
    def lost(self) -> int:
        return len(self.missing) + len(self.stale)

    def __str__(self) -> str:
        return (
            f"{self.kind}: {len(self.missing)} missing, {len(self.stale)} stale by content, "
            f"{len(self.extra)} extra of {self.checked} due"
            + (f" (e.g. {'; '.join(self.examples)})" if self.lost else "")
        )


def truth(sandbox, nick: str, kind: Kind) -> dict[int, dict]:
    """The oracle's records of seller ``nick`` by key, each with ``content`` (the hash of the
    record rendered with the engine's fields) and ``visible_at``. ``sandbox`` is anything
    with the sandbox's ``control(path)``."""
    query = urlencode({"nick": nick, "fields": kind.fields})
    rows = sandbox.control(f"oracle/{kind.name}?{query}")[kind.name]
    return {int(row[kind.key]): row for row in rows}


def stored(shop, kind: Kind) -> dict[int, dict]:
    """The wire records a shop's table holds (its ``payload`` column), by key."""
    rows = kind.model.objects.filter(shop=shop).values_list(kind.key, "payload")
    return dict(rows)


def compare(
    kind: Kind, expected: dict[int, dict], ours: dict[int, dict], due: Callable | None = None
) -> Diff:
    """Compare the store ``ours`` (key -> wire record) with ``expected`` by content; with
    ``due``, only the records ``due(row)`` says must be stored by now."""
    diff = Diff(kind.name)
    for key, row in expected.items():
        if due is not None and not due(row):
            continue
        diff.checked += 1
        record = ours.get(key)
        if record is None:
            diff.missing.append(key)
        elif kind.content(record, kind.fields) != row["content"]:
            diff.stale.append(key)
        else:
            continue
        if len(diff.examples) < 5:
            diff.examples.append(_example(key, row, record))
    diff.extra = sorted(ours.keys() - expected.keys())
    return diff


def _example(key: int, row: dict, record: dict | None) -> str:
    truth_ = f"{row['status']} {row['modified']} visible {row['visible_at']}"
    if record is None:
        return f"{key} missing, is {truth_}"
    return f"{key} stored {record.get('status')} {record.get('modified')}, is {truth_}"


def compare_shop(
    sandbox, shop, due: Callable | None = None, kinds: Iterable[Kind] = KINDS
) -> list[Diff]:
    """A shop's trades and refunds (``kinds``) against the oracle; one :class:`Diff` each."""
    return [
        compare(kind, truth(sandbox, shop.seller_nick, kind), stored(shop, kind), due)
        for kind in kinds
    ]


Spell = tuple[datetime, datetime]


def due_by(
    now: datetime, configured_lag: float, grace: float, refused: Iterable[Spell] = ()
) -> Callable[[dict], bool]:
    """Whether an oracle row must be stored at platform time ``now``: its version became
    visible (its own lag), the platform let the shop's searches list it (a trade-service
    rejection refuses them for a while) and the configured lag passed since it was made, plus
    ``grace`` (one sync interval and what a run under faults may take).

    ``refused``: the spells during which the platform refused the shop's searches
    (:func:`rejections`). Their seconds do not count against the grace, whenever they fall
    in it: a change the engine had not listed yet when a spell began waits for its end as
    much as one that became visible during it."""
    lag = timedelta(seconds=configured_lag)
    grace_delta = timedelta(seconds=grace)
    spells = list(refused)

    def due(row: dict) -> bool:
        visible = parse_time(row.get("listable_at", row["visible_at"]))
        listed = max(visible, parse_time(row["modified"]) + lag)
        return now - listed - _overlap(spells, listed, now) >= grace_delta

    return due


def _overlap(spells: list[Spell], start: datetime, end: datetime) -> timedelta:
    """How much of ``[start, end]`` the ``spells`` cover (they do not overlap each other)."""
    covered = timedelta(0)
    for spell_start, spell_end in spells:
        covered += max(timedelta(0), min(spell_end, end) - max(spell_start, start))
    return covered


def rejections(sandbox, nick: str) -> list[Spell]:
    """The spells during which the sandbox's trade lists refused seller ``nick``'s searches
    (``isv.trade-service-rejection``); the refund list is never refused."""
    query = urlencode({"nick": nick})
    spells = sandbox.control(f"oracle/rejections?{query}")["spells"]
    return [(parse_time(start), parse_time(end)) for start, end in spells]


def platform_now(sandbox) -> datetime:
    """The sandbox's clock (skew included), as the engine measures it."""
    return parse_time(sandbox.control("time")["time"])


def lost(diffs: Iterable[Diff]) -> int:
    return sum(diff.lost for diff in diffs)
