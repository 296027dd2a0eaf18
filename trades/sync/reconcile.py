"""Reconcile: one shop's platform day checked against our rows, and repaired.

Per created-day: count on the platform (``fields=tid``) against ours; where they differ, list
the day's tids and diff; then check statuses against the day's increment listing. Whatever is
missing or older than the platform's is fetched with ``trade.fullinfo.get`` and written
through the normal write path. Nothing found is the normal result.
"""

from __future__ import annotations

import logging
import time
from datetime import date, datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from ordersync.taobao import api
from ordersync.taobao.client import TopClient
from ordersync.taobao.errors import RefundNotFound, SessionInvalid, TradeNotFound
from ordersync.taobao.types import PLATFORM_TZ, parse_time
from shops.models import Checkpoint, Shop, SyncRun
from shops.top import client_for_shop
from trades.models import ReconcileReport, Trade
from trades.sync import locks, runs
from trades.sync.reading import read_backward, read_forward
from trades.sync.streams import REFUND_FIELDS, TRADE_FIELDS
from trades.sync.write import malformed, write_refunds, write_trades
from trades.webhooks.events import emit_found_missing

log = logging.getLogger("ordersync.sync")
LISTING_FIELDS = "tid,status,modified"
DETAIL_LIMIT = 200


def reconcile_shop(
    shop: Shop, day: date | None = None, *, client: TopClient | None = None
) -> list[ReconcileReport]:
    """Reconcile ``day`` (platform date), or yesterday and today so far; return the reports.

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
        return _reconcile_days(shop, client_for_shop(shop, client), day)


def _reconcile_days(shop: Shop, client: TopClient, day: date | None) -> list[ReconcileReport]:
    today = client.clock.now().astimezone(PLATFORM_TZ).date()
    days = [day] if day else [today - timedelta(days=1), today]
    reports, failed = [], False
    try:
        _repair_set_aside(shop, client)
    except Exception as error:
        failed = True
        runs.record_failure(shop, Checkpoint.Stream.RECONCILE, error)
        if isinstance(error, SessionInvalid):
            return reports
    for d in days:
        try:
            reports.append(_reconcile_day(shop, client, d))
        except Exception as error:
            failed = True
            runs.record_failure(shop, Checkpoint.Stream.RECONCILE, error)
            if isinstance(error, SessionInvalid):
                break  # the shop needs re-authorization: no other day can be read
    if not failed:
        _record_success(shop)
    return reports


def _repair_set_aside(shop: Shop, client: TopClient) -> None:
    """Fetch and write the trades and refunds the sync set aside (``trades.sync.poison``).

    Those written leave the list; those the platform still does not find, or still sends
    malformed, stay on it (and stay visible on the checkpoint). Keys that are no id cannot be
    fetched: they are logged and dropped.
    """
    for stream in (Checkpoint.Stream.TRADES, Checkpoint.Stream.BACKFILL, Checkpoint.Stream.REFUNDS):
        keys = list(
            Checkpoint.objects.filter(shop=shop, stream=stream)
            .values_list("progress__set_aside", flat=True)
            .first()
            or {}
        )
        if not keys:
            continue
        ids = [int(key) for key in keys if key.isdigit()]
        refunds = stream == Checkpoint.Stream.REFUNDS
        fetched, _ = _repair(shop, client, ids, runs.Counters(), refunds=refunds)
        settled = {str(key) for key in fetched} | {key for key in keys if not key.isdigit()}
        log.info("shop %s: %d of %d set-aside records repaired", shop.pk, len(settled), len(keys))
        with transaction.atomic():
            checkpoint = Checkpoint.objects.select_for_update().get(shop=shop, stream=stream)
            kept = checkpoint.progress.get("set_aside", {})
            kept = {key: reason for key, reason in kept.items() if key not in settled}
            checkpoint.progress = {**checkpoint.progress, "set_aside": kept}
            checkpoint.save(update_fields=["progress"])


def _record_success(shop: Shop) -> None:
    Checkpoint.objects.filter(shop=shop, stream=Checkpoint.Stream.RECONCILE).update(
        last_success_at=timezone.now(), consecutive_failures=0, last_error="", next_run_at=None
    )


def _reconcile_day(shop: Shop, client: TopClient, day: date) -> ReconcileReport:
    run = runs.start_run(shop, Checkpoint.Stream.RECONCILE, SyncRun.Kind.RECONCILE)
    counters = runs.Counters()
    started, calls_before = time.monotonic(), client.calls
    start = datetime.combine(day, datetime.min.time(), tzinfo=PLATFORM_TZ)
    lag = timedelta(seconds=settings.SYNC_LAG_SECONDS)
    end = min(start + timedelta(days=1), client.clock.now() - lag).replace(microsecond=0)
    run.window_start, run.window_end = start, end
    try:
        report = _compare(shop, client, start, end, counters)
    except Exception as error:
        counters.api_calls = client.calls - calls_before
        runs.finish_run(run, counters, SyncRun.Outcome.FAILED, error)
        raise
    report.api_calls = counters.api_calls = client.calls - calls_before
    report.duration_seconds = time.monotonic() - started
    with transaction.atomic():  # the report and its webhook event commit together
        report.save()
        if report.missing_found:
            emit_found_missing(report)
    runs.finish_run(run, counters, SyncRun.Outcome.SUCCEEDED)
    return report


def _local(shop: Shop, tids) -> dict[int, datetime]:
    return dict(Trade.objects.filter(shop=shop, tid__in=list(tids)).values_list("tid", "modified"))


def _compare(shop: Shop, client: TopClient, start, end, counters) -> ReconcileReport:
    types = ",".join(settings.SYNC_TRADE_TYPES)
    sold = partial(
        api.trades_sold_get,
        client,
        shop.session_key,
        start_created=start,
        end_created=end - timedelta(seconds=1),  # both bounds are inclusive
        type=types,
    )
    platform_count = sold(fields="tid", page_size=1, use_has_next=False).total_results or 0
    local_count = Trade.objects.filter(
        shop=shop, created__gte=start, created__lt=end, type__in=settings.SYNC_TRADE_TYPES
    ).aggregate(n=Count("id"))["n"]

    platform: dict[int, datetime] = {}
    if platform_count != local_count:
        fetch = partial(sold, fields=LISTING_FIELDS, page_size=100, use_has_next=True)
        for items in read_forward(lambda page_no: fetch(page_no=page_no)):
            platform.update({t["tid"]: parse_time(t["modified"]) for t in items})
    if end > start:
        changed = partial(
            api.trades_sold_increment_get,
            client,
            shop.session_key,
            start_modified=start,
            end_modified=end,
            fields=LISTING_FIELDS,
            page_size=100,
            type=types,
        )
        pages = read_backward(
            lambda page_no, start_at, size: changed(
                page_no=page_no, start_modified=start_at, page_size=size
            ),
            start=start,
            page_size=100,
            split_threshold=10**9,  # a reconcile reads the whole day, however large
        )
        for items in pages:
            for t in items:
                modified = parse_time(t["modified"])
                platform[t["tid"]] = max(modified, platform.get(t["tid"], modified))

    local = _local(shop, platform)
    missing = sorted(tid for tid in platform if tid not in local)
    stale = sorted(
        tid for tid, modified in platform.items() if tid in local and local[tid] < modified
    )
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


def _repair(
    shop: Shop, client: TopClient, keys: list[int], counters, *, refunds: bool = False
) -> tuple[set[int], set[int]]:
    """Fetch full trades (``fullinfo``) or refunds (``refund.get``) and write them; return the
    keys fetched and the keys written."""
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
        result = write(shop, batch, current=True)  # detail answers: always current
        counters.trades_seen += result.seen
        counters.trades_written += result.written
        fixed.update(change.key for change in result.changes)
    return fetched, fixed
