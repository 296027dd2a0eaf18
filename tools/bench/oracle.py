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

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from ordersync.sandbox.fields import refund_content, trade_content
from ordersync.taobao.types import parse_time
from trades.models import Refund, Trade
from trades.sync.fields import REFUND_FIELDS, TRADE_FIELDS
from trades.sync.late import VISIBLE_LAG_SECONDS


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


# How many of the engine's rounds a change may need once a window can hold it: the engine's
# clock reads about a second behind the platform's, so the first round that starts after it
# may still end its windows short of the change; the second lists it.
ROUNDS_TO_LIST = 2
# A window ends this long before the engine's "now" on visibility time (``incrementv.get``),
# the configured lag before it on ``modified``: a round lists a change only that much after.
WINDOW_END_MARGIN = timedelta(seconds=VISIBLE_LAG_SECONDS)


def due_by(
    now: datetime,
    configured_lag: float,
    grace: float,
    refused: Iterable[Spell] = (),
    rounds: Sequence[datetime] | None = None,
) -> Callable[[dict], bool]:
    """Whether an oracle row must be stored at platform time ``now``: its version became
    visible (its own lag), the platform let the shop's searches list it (a trade-service
    rejection refuses them for a while) and the configured lag passed since it was made, plus
    ``grace`` (one sync interval and what a run under faults may take).

    ``refused``: the spells during which the platform refused the shop's searches
    (:func:`rejections`). Their seconds do not count against the grace, whenever they fall
    in it: a change the engine had not listed yet when a spell began waits for its end as
    much as one that became visible during it.

    ``rounds``: the platform times at which the engine's completed rounds started, for an
    engine synced in process. Then a change is due only once, besides the grace,
    ``ROUNDS_TO_LIST`` rounds that started after a window could hold it (:func:`listed_at`
    plus ``WINDOW_END_MARGIN``) have ended: a few slow rounds under stacked faults (a ban, a
    hang to the read timeout, retries) are the engine's own time, not a change it left
    behind. An idle engine still completes a round every interval, so it is still caught."""
    grace_delta = timedelta(seconds=grace)
    spells = list(refused)

    def due(row: dict) -> bool:
        listed = listed_at(row, configured_lag)
        if now - listed - _overlap(spells, listed, now) < grace_delta:
            return False
        return rounds is None or rounds_since(rounds, listed + WINDOW_END_MARGIN) >= ROUNDS_TO_LIST

    return due


def listed_at(row: dict, configured_lag: float) -> datetime:
    """When an oracle row could first be listed by a window that keeps the configured lag:
    its version visible and the platform letting the shop's searches list it (``listable_at``),
    and the lag passed since it was made."""
    visible = parse_time(row.get("listable_at", row["visible_at"]))
    return max(visible, parse_time(row["modified"]) + timedelta(seconds=configured_lag))


def rounds_since(rounds: Sequence[datetime], at: datetime) -> int:
    """How many of the completed rounds (their start times) started at or after ``at``."""
    return sum(start >= at for start in rounds)


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
