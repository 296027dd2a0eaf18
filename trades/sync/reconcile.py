"""Reconcile: one shop's platform day checked against our rows, and repaired.

Trades, per created-day: count on the platform (``fields=tid``) against ours; where they
differ, list the day's tids and diff; then check statuses against the day's increment
listing. Refunds, per modified-day (they have no list by creation): list the day's refund
ids with ``refunds.receive.get`` (every synced type) and diff them against ours. Whatever is
missing or older than the platform's is fetched with ``trade.fullinfo.get`` or
``refund.get`` and written through the normal write path. Nothing found is the normal result.

Every day since the last day reconciled whole is reconciled (``progress["reconciled_until"]``
on the reconcile checkpoint moves only over days that succeeded after they ended), so a day
that failed or a reconcile that did not run is made up by the next one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from ordersync.taobao import api
from ordersync.taobao.client import TopClient
from ordersync.taobao.errors import (
    InvalidRequest,
    RefundNotFound,
    SessionInvalid,
    TradeNotFound,
)
from ordersync.taobao.types import PLATFORM_TZ, parse_time
from shops.models import Checkpoint, Shop, SyncRun
from shops.top import client_for_shop
from trades.models import ReconcileReport, Refund, Trade
from trades.sync import locks, runs
from trades.sync.fields import REFUND_FIELDS, TRADE_FIELDS
from trades.sync.poison import REFUND_SET_ASIDE, SET_ASIDE, unresolved_slot
from trades.sync.reading import read_backward, read_forward
from trades.sync.streams import refunds_receive_get
from trades.sync.write import WriteResult, malformed, write_refunds, write_trades
from trades.webhooks.events import emit_found_missing

log = logging.getLogger("ordersync.sync")
LISTING_FIELDS = "tid,status,modified"
REFUND_LISTING_FIELDS = "refund_id,modified"
DETAIL_LIMIT = 200
UNKNOWN = datetime.max.replace(tzinfo=PLATFORM_TZ)
# Days a reconcile goes back at most to make up missed ones: the platform's 3-month scope.
MAX_DAYS_BEHIND = 89
# Where set-aside records are kept: (checkpoint stream, progress key, refunds?).
SET_ASIDE_SLOTS = (
    (Checkpoint.Stream.TRADES, SET_ASIDE, False),
    (Checkpoint.Stream.BACKFILL, SET_ASIDE, False),
    (Checkpoint.Stream.BACKFILL, REFUND_SET_ASIDE, True),
    (Checkpoint.Stream.REFUNDS, SET_ASIDE, True),
    (Checkpoint.Stream.JDP_TRADES, SET_ASIDE, False),
    (Checkpoint.Stream.JDP_REFUNDS, SET_ASIDE, True),
    (Checkpoint.Stream.JDP_TM_REFUNDS, SET_ASIDE, True),
)


def reconcile_shop(
    shop: Shop,
    day: date | None = None,
    *,
    client: TopClient | None = None,
    time_limit: float | None = None,
) -> list[ReconcileReport]:
    """Reconcile ``day`` (platform date), or every day since the last one reconciled whole
    (at least yesterday) and today so far; return the reports.

    With ``time_limit`` (seconds), no day starts after it but the first: the days left are
    counted on the checkpoint (``progress["days_left"]``) and the scheduled sync queues the
    reconcile again (``trades.tasks.resume_unfinished``), as for an unfinished backfill.

    One reconcile of a shop runs at a time (the reconcile checkpoint's run lock; a duplicate
    records a skipped run and returns no report). Each day is its own run: a day that fails
    is recorded like a failed sync (run failed, checkpoint counts it and backs off, an
    invalid session marks the shop ``needs_reauth``) and the other day is still reconciled.
    """
    stream = Checkpoint.Stream.RECONCILE
    checkpoint, _ = Checkpoint.objects.get_or_create(shop=shop, stream=stream)
    with locks.run_lock(checkpoint.pk) as taken:
        if not taken:
            runs.skip_run(shop, stream, SyncRun.Kind.RECONCILE)
            return []
        runs.close_lost_runs(shop, stream, SyncRun.Kind.RECONCILE)
        stop_at = None if time_limit is None else time.monotonic() + time_limit
        return _reconcile_days(shop, client_for_shop(shop, client), day, stop_at)


def _reconcile_days(
    shop: Shop, client: TopClient, day: date | None, stop_at: float | None
) -> list[ReconcileReport]:
    now = client.clock.now()
    today = now.astimezone(PLATFORM_TZ).date()
    days = [day] if day else _days_due(shop, today)
    reports: list[ReconcileReport] = []
    failed = False
    try:
        _repair_set_aside(shop, client)
    except Exception as error:
        failed = True
        runs.record_failure(shop, Checkpoint.Stream.RECONCILE, error)
        if isinstance(error, SessionInvalid):
            return reports
    whole_until = None  # the last day of an unbroken run of days reconciled whole
    days_left = 0
    for n, d in enumerate(days):
        if n and stop_at is not None and time.monotonic() > stop_at:
            days_left = len(days) - n  # the next run goes on from here
            break
        try:
            reports.append(_reconcile_day(shop, client, d))
        except Exception as error:
            failed = True
            runs.record_failure(shop, Checkpoint.Stream.RECONCILE, error)
            if isinstance(error, SessionInvalid):
                break  # the shop needs re-authorization: no other day can be read
            continue
        if day is None and not failed and _ended(d, now):
            whole_until = d
    if day is None:
        _record_days(shop, whole_until, days_left)
    if not failed:
        _record_success(shop)
    return reports


def _days_due(shop: Shop, today: date) -> list[date]:
    """The days after the last one reconciled whole, at least yesterday, up to today."""
    first = today - timedelta(days=1)
    progress = (
        Checkpoint.objects.filter(shop=shop, stream=Checkpoint.Stream.RECONCILE)
        .values_list("progress", flat=True)
        .first()
    ) or {}
    if progress.get("reconciled_until"):
        first = min(first, date.fromisoformat(progress["reconciled_until"]) + timedelta(days=1))
    first = max(first, today - timedelta(days=MAX_DAYS_BEHIND))
    return [first + timedelta(days=n) for n in range((today - first).days + 1)]


def _ended(day: date, now: datetime) -> bool:
    """Whether ``day`` was over (past the visibility lag) at ``now``: a reconcile then saw
    it whole."""
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=PLATFORM_TZ)
    return now - timedelta(seconds=settings.SYNC_LAG_SECONDS) >= end


def _record_days(shop: Shop, whole_until: date | None, days_left: int) -> None:
    """Record the last day reconciled whole (if this run moved it) and the days still due."""
    with transaction.atomic():
        checkpoint = Checkpoint.objects.select_for_update().get(
            shop=shop, stream=Checkpoint.Stream.RECONCILE
        )
        progress = {**checkpoint.progress, "days_left": days_left}
        if whole_until is not None:
            progress["reconciled_until"] = whole_until.isoformat()
        checkpoint.progress = progress
        checkpoint.save(update_fields=["progress"])


def _repair_set_aside(shop: Shop, client: TopClient) -> None:
    """Fetch and write the trades and refunds the sync set aside (``trades.sync.poison``),
    and those still unresolved from earlier reconciles.

    Those written leave both lists. Those the platform does not return (not found, still
    malformed, no id to fetch) move to the unresolved list: reported, tried again next time,
    never dropped, and no longer held against the stream.
    """
    for stream, slot, refunds in SET_ASIDE_SLOTS:
        progress = (
            Checkpoint.objects.filter(shop=shop, stream=stream)
            .values_list("progress", flat=True)
            .first()
        ) or {}
        set_aside = progress.get(slot) or {}
        tried = set(set_aside) | set(progress.get(unresolved_slot(slot)) or {})
        if not tried:
            continue
        ids = [int(key) for key in tried if key.isdigit()]
        fetched, _ = _repair(shop, client, ids, runs.Counters(), refunds=refunds)
        settled = {str(key) for key in fetched}
        log.info("shop %s: %d of %d set-aside records repaired", shop.pk, len(settled), len(tried))
        today = client.clock.now().astimezone(PLATFORM_TZ).date()
        _settle(shop, stream, slot, tried, settled, set_aside, today)


def _settle(
    shop: Shop,
    stream: str,
    slot: str,
    tried: set[str],
    settled: set[str],
    reasons: dict[str, Any],
    today: date,
) -> None:
    """Take the ``tried`` keys off the set-aside list: ``settled`` ones for good, the others
    onto the unresolved list (keys set aside meanwhile stay where they are), unresolved
    ``since`` the platform date ``today`` like the reconcile's days (the UTC date is a day
    behind from platform midnight to 08:00)."""
    since = today.isoformat()
    with transaction.atomic():
        checkpoint = Checkpoint.objects.select_for_update().get(shop=shop, stream=stream)
        progress = checkpoint.progress
        kept = {k: r for k, r in (progress.get(slot) or {}).items() if k not in tried}
        unresolved = {
            k: entry
            for k, entry in (progress.get(unresolved_slot(slot)) or {}).items()
            if k not in settled
        }
        for key in tried - settled:
            unresolved.setdefault(key, {"reason": reasons.get(key, "?"), "since": since})
        checkpoint.progress = {**progress, slot: kept, unresolved_slot(slot): unresolved}
        checkpoint.save(update_fields=["progress"])


def unresolved_records(shop: Shop) -> list[dict[str, Any]]:
    """Every set-aside record of ``shop`` the platform did not return to the reconcile:
    ``{"stream", "key", "reason", "since"}``."""
    found = []
    for stream, slot, refunds in SET_ASIDE_SLOTS:
        progress = (
            Checkpoint.objects.filter(shop=shop, stream=stream)
            .values_list("progress", flat=True)
            .first()
        ) or {}
        for key, entry in sorted((progress.get(unresolved_slot(slot)) or {}).items()):
            found.append({"stream": "refunds" if refunds else "trades", "key": key, **entry})
    return found


def _record_success(shop: Shop) -> None:
    Checkpoint.objects.filter(shop=shop, stream=Checkpoint.Stream.RECONCILE).update(
        last_success_at=timezone.now(), consecutive_failures=0, last_error="", next_run_at=None
    )


def _reconcile_day(shop: Shop, client: TopClient, day: date) -> ReconcileReport:
    run = runs.start_run(shop, Checkpoint.Stream.RECONCILE, SyncRun.Kind.RECONCILE)
    counters = runs.Counters()
    started, calls = time.monotonic(), runs.CallMeter(client)
    start = datetime.combine(day, datetime.min.time(), tzinfo=PLATFORM_TZ)
    lag = timedelta(seconds=settings.SYNC_LAG_SECONDS)
    end = min(start + timedelta(days=1), client.clock.now() - lag).replace(microsecond=0)
    run.window_start, run.window_end = start, end
    try:
        report = _compare(shop, client, start, end, counters)
        _compare_refunds(shop, client, start, end, counters, report)
        unresolved = unresolved_records(shop)
        report.unresolved = len(unresolved)
        if unresolved:
            report.details["unresolved"] = unresolved[:DETAIL_LIMIT]
    except Exception as error:
        calls.settle(counters)
        runs.finish_run(run, counters, SyncRun.Outcome.FAILED, error)
        raise
    report.api_calls = calls.settle(counters)
    report.duration_seconds = time.monotonic() - started
    with transaction.atomic():  # the report and its webhook event commit together
        report.save()
        if report.missing_found or report.refunds_missing_found:
            emit_found_missing(report)
    runs.finish_run(run, counters, SyncRun.Outcome.SUCCEEDED)
    return report


def _modified(entry: dict[str, Any]) -> datetime:
    """A listing entry's ``modified``; one without it (malformed) counts as newer than any row
    we hold, so the detail API (always current) is asked for the record."""
    return parse_time(entry.get("modified")) or UNKNOWN


def _local(shop: Shop, tids: Iterable[int]) -> dict[int, datetime]:
    return dict(Trade.objects.filter(shop=shop, tid__in=list(tids)).values_list("tid", "modified"))


def _compare(
    shop: Shop, client: TopClient, start: datetime, end: datetime, counters: runs.Counters
) -> ReconcileReport:
    """The day's trades (by created) on the platform against ours; repair the difference."""
    sold = partial(
        api.trades_sold_get,
        client,
        shop.session_key,
        start_created=start,
        end_created=end - timedelta(seconds=1),  # both bounds are inclusive
        type=",".join(settings.SYNC_TRADE_TYPES),
    )
    # today's slice in the lag after midnight ends before it starts: nothing to ask for
    platform_count = (
        sold(fields="tid", page_size=1, use_has_next=False).total_results or 0 if end > start else 0
    )
    local_count = Trade.objects.filter(
        shop=shop, created__gte=start, created__lt=end, type__in=settings.SYNC_TRADE_TYPES
    ).aggregate(n=Count("id"))["n"]
    platform = _listed_by_created(sold) if platform_count != local_count else {}
    if end > start:
        _add_listed_by_modified(platform, shop, client, start, end)
    missing, stale = _differences(shop, platform)
    fetched, fixed = _repair(shop, client, missing + stale, counters)
    return ReconcileReport(
        tenant_id=shop.tenant_id,
        shop=shop,
        day=start.date(),
        platform_count=platform_count,
        local_count=local_count,
        # found: listed as missing and fetched (a tid gone from the platform's scope since
        # it was listed is not found, and is only named in the details)
        missing_found=len([tid for tid in missing if tid in fetched]),
        stale_fixed=len([tid for tid in stale if tid in fixed]),
        details={
            "missing": missing[:DETAIL_LIMIT],
            "stale": stale[:DETAIL_LIMIT],
            "not_found": sorted(set(missing + stale) - fetched)[:DETAIL_LIMIT],
        },
    )


def _listed_by_created(sold: Callable[..., api.Page]) -> dict[int, datetime]:
    """Every trade the platform lists as created in the day: tid → modified."""
    fetch = partial(sold, fields=LISTING_FIELDS, page_size=100, use_has_next=True)
    platform: dict[int, datetime] = {}
    for items in read_forward(lambda page_no: fetch(page_no=page_no)):
        platform.update({t["tid"]: _modified(t) for t in items if t.get("tid")})
    return platform


def _add_listed_by_modified(
    platform: dict[int, datetime], shop: Shop, client: TopClient, start: datetime, end: datetime
) -> None:
    """Add the trades modified in the day (created any time), keeping each one's newest
    ``modified``."""
    changed = partial(
        api.trades_sold_increment_get,
        client,
        shop.session_key,
        start_modified=start,
        end_modified=end,
        fields=LISTING_FIELDS,
        page_size=100,
        type=",".join(settings.SYNC_TRADE_TYPES),
    )
    _keep_newest(platform, "tid", _whole_day_backward(changed, start))


def _whole_day_backward(
    listing: Callable[..., api.Page], start: datetime, **options: Any
) -> Iterator[list[dict[str, Any]]]:
    """Every page of ``listing`` from ``start`` to its end, read backward like the sync."""
    return read_backward(
        lambda page_no, start_at, size: listing(
            page_no=page_no, start_modified=start_at, page_size=size
        ),
        start=start,
        page_size=100,
        split_threshold=10**9,  # a reconcile reads the whole day, however large
        **options,
    )


def _keep_newest(
    platform: dict[int, datetime], key: str, pages: Iterable[list[dict[str, Any]]]
) -> None:
    """Add each listed record's ``modified`` under its ``key``, the newest when listed twice."""
    for items in pages:
        for record in items:
            if record.get(key):
                modified = _modified(record)
                platform[record[key]] = max(modified, platform.get(record[key], modified))


def _differences(shop: Shop, platform: dict[int, datetime]) -> tuple[list[int], list[int]]:
    """The tids we lack, and those we hold in an older version than the platform's."""
    local = _local(shop, platform)
    missing = sorted(tid for tid in platform if tid not in local)
    stale = sorted(
        tid for tid, modified in platform.items() if tid in local and local[tid] < modified
    )
    return missing, stale


def _compare_refunds(
    shop: Shop,
    client: TopClient,
    start: datetime,
    end: datetime,
    counters: runs.Counters,
    report: ReconcileReport,
) -> None:
    """The day's refunds (by modified) on the platform against ours; repair the difference
    and add it to ``report``."""
    platform: dict[int, datetime] = {}
    if end > start:
        listing = partial(
            refunds_receive_get,  # names every synced type: the default hides most
            client,
            shop.session_key,
            start_modified=start,
            end_modified=end - timedelta(seconds=1),  # both bounds are inclusive
            fields=REFUND_LISTING_FIELDS,
            page_size=100,
        )
        # the refund list's order is not documented
        pages = _whole_day_backward(listing, start, by_modified=False)
        _keep_newest(platform, "refund_id", pages)
    local_count = Refund.objects.filter(shop=shop, modified__gte=start, modified__lt=end).aggregate(
        n=Count("id")
    )["n"]
    local = dict(
        Refund.objects.filter(shop=shop, refund_id__in=list(platform)).values_list(
            "refund_id", "modified"
        )
    )
    missing = sorted(key for key in platform if key not in local)
    stale = sorted(
        key for key, modified in platform.items() if key in local and local[key] < modified
    )
    fetched, fixed = _repair(shop, client, missing + stale, counters, refunds=True)
    report.refunds_platform_count = len(platform)
    report.refunds_local_count = local_count
    report.refunds_missing_found = len([key for key in missing if key in fetched])
    report.refunds_stale_fixed = len([key for key in stale if key in fixed])
    if missing or stale:
        report.details["refunds"] = {
            "missing": missing[:DETAIL_LIMIT],
            "stale": stale[:DETAIL_LIMIT],
            "not_found": sorted(set(missing + stale) - fetched)[:DETAIL_LIMIT],
        }


def _repair(
    shop: Shop,
    client: TopClient,
    keys: list[int],
    counters: runs.Counters,
    *,
    refunds: bool = False,
) -> tuple[set[int], set[int]]:
    """Fetch full trades (``fullinfo``) or refunds (``refund.get``) and write them; return the
    keys fetched and the keys written."""
    gone: type[InvalidRequest]
    write: Callable[..., WriteResult]
    if refunds:
        fetch = partial(api.refund_get, client, shop.session_key, fields=REFUND_FIELDS)
        key, gone, write = "refund_id", RefundNotFound, write_refunds
    else:
        fetch = partial(api.trade_fullinfo_get, client, shop.session_key, fields=TRADE_FIELDS)
        key, gone, write = "tid", TradeNotFound, write_trades
    fetched: set[int] = set()
    fixed: set[int] = set()
    for offset in range(0, len(keys), 100):
        batch = []
        for value in keys[offset : offset + 100]:
            try:
                record = fetch(value)
            except gone:
                continue  # gone from the platform's 3-month scope since it was listed
            if malformed(record, key):
                continue  # still unwritable: it stays set aside, the others are written
            batch.append(record)
            fetched.add(value)
        # detail answers: always current
        result = write(shop, batch, current=True, channel="reconcile")
        counters.count_written(result, pages=0)
        fixed.update(change.key for change in result.changes)
    return fetched, fixed
