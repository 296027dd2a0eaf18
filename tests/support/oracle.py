"""The tests' oracle: every trade and refund of a shop stored with the platform's current
content (``tools.bench.oracle`` holds the one comparison; here are its assertions)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone

from shops.models import Checkpoint, SyncRun
from tools.bench.oracle import (
    KINDS,
    TRADES,
    compare,
    compare_shop,
    due_by,
    lost,
    platform_now,
    rejections,
    stored,
    truth,
)
from trades.feed.models import ChangeEvent


def assert_matches_oracle(gateway, shop) -> None:
    """Every trade and refund of the sandbox is stored with its current content, and nothing
    the sandbox does not know is stored."""
    diffs = compare_shop(gateway, shop)
    assert not lost(diffs) and not any(diff.extra for diff in diffs), "; ".join(map(str, diffs))


def assert_current_within(
    gateway, shop, configured_lag: float, grace: float, rounds: list[datetime] | None = None
) -> int:
    """Every change old enough to be stored by now is stored with its current content: made
    more than (its own lag, at least ``configured_lag``) + ``grace`` seconds ago, in platform
    time. A stream the platform told to wait (``isv.trade-service-rejection``: "query again
    in 3 minutes") is left to the final check while it waits, and the seconds the trade
    lists refused the shop's searches do not count against a trade's grace. With ``rounds``
    (the platform times the engine's completed rounds started, for an engine run in process)
    a change is due only once two rounds that started after it could be listed have ended
    (``due_by``). Returns how many records were due (the check is hollow when none is)."""
    now = platform_now(gateway)
    refused = {TRADES.name: rejections(gateway, shop.seller_nick)}
    waiting = waiting_out_rejection(shop)
    diffs = [
        compare(
            kind,
            truth(gateway, shop.seller_nick, kind),
            stored(shop, kind),
            due_by(now, configured_lag, grace, refused.get(kind.name, ()), rounds),
        )
        for kind in KINDS
        if kind.name not in waiting
    ]
    assert not lost(diffs), "during the run: " + "; ".join(map(str, diffs))
    return sum(diff.checked for diff in diffs)


def waiting_out_rejection(shop) -> set[str]:
    """The shop's streams whose last run was rejected and which wait out the pause now."""
    now = timezone.now()
    waiting = set()
    for checkpoint in Checkpoint.objects.filter(shop=shop, next_run_at__gt=now):
        # a run that found the stream's lock taken and left says nothing about the stream:
        # one that began while the rejected run held the lock started after it
        last = (
            SyncRun.objects.filter(shop=shop, stream=checkpoint.stream)
            .exclude(outcome__in=[SyncRun.Outcome.RUNNING, SyncRun.Outcome.SKIPPED])
            .order_by("-started_at")
            .first()
        )
        if last is not None and last.error_class == "TradeServiceRejected":
            waiting.add(checkpoint.stream)
    return waiting


def trades_current(gateway, shop) -> bool:
    """Whether every trade of the sandbox is stored with its current content (to wait on)."""
    expected = truth(gateway, shop.seller_nick, TRADES)
    return not compare(TRADES, expected, stored(shop, TRADES)).lost


def feed_repeats(gateway, shop) -> list[str]:
    """The changes the feed recorded more often than the platform made them: per record and
    ``modified`` second, the feed's statuses must be a subsequence of the statuses of the
    platform's versions of that second. ``modified`` has whole seconds, so two events of one
    (record, second) are right when the platform changed the record twice in that second
    (it did: created and paid at once); a third, or the same version twice, is a repeat."""
    made = platform_versions(gateway, shop.seller_nick)
    recorded: dict[tuple, list[str]] = {}
    events = ChangeEvent.objects.filter(shop=shop).order_by("id")
    for entity, key, modified, status in events.values_list("entity", "key", "modified", "status"):
        recorded.setdefault((entity, key, modified), []).append(status)
    return [
        f"{entity} {key} at {modified}: recorded {statuses}, made {made.get(version)}"
        for version, statuses in recorded.items()
        for entity, key, modified in [version]
        if not _subsequence(statuses, made.get(version, []))
    ]


def platform_versions(gateway, nick: str) -> dict[tuple, list[str]]:
    """(entity, key, modified) → the statuses of the versions the sandbox made, in order."""
    world = gateway.sandbox.state
    made: dict[tuple, list[str]] = {}
    with world.lock:
        seller = world.sellers[nick]
        versions = [("trade", t.tid, v) for t in seller.trades.values() for v in t.versions]
        versions += [
            ("refund", int(r.refund_id), v) for r in seller.refunds.values() for v in r.versions
        ]
        for entity, key, version in versions:
            at = datetime.fromtimestamp(version.modified, UTC)
            made.setdefault((entity, key, at), []).append(version.data["status"])
    return made


def _subsequence(part: list[str], whole: list[str]) -> bool:
    rest = iter(whole)
    return all(any(status == other for other in rest) for status in part)
