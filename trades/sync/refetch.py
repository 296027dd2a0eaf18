"""Targeted re-pull: read again a list of trades, or one window of modified time, and write
what comes back through the write path. Support's answer to "order X is missing".

A re-pull moves no cursor and holds no stream lock: the write path is idempotent and
monotonic (an older version never replaces a newer one), so it can run beside the shop's
sync. A window is read like the engine reads one (from the last page back, split while too
full, ``fullinfo`` where a list entry lacks ``orders``), its end capped at platform time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from ordersync.taobao import api
from ordersync.taobao.client import TopClient
from ordersync.taobao.errors import RateLimited, SessionInvalid, TopError, TradeNotFound
from shops import actions
from shops.models import Shop, SyncRun
from shops.refetch import check_window
from shops.top import client_for_shop
from trades.sync import runs
from trades.sync.fields import TRADE_FIELDS
from trades.sync.incremental import read_split
from trades.sync.streams import STREAMS
from trades.sync.windows import Window
from trades.sync.write import malformed, write_trades


@dataclass
class Outcome:
    """What a re-pull did: counts, and the ids not found or not fetched."""

    run: int = 0
    fetched: int = 0
    written: int = 0
    not_found: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, the ids also as strings (JavaScript rounds 19-digit numbers)."""
        data = asdict(self)
        for name in ("not_found", "failed"):
            data[f"{name}_str"] = [str(tid) for tid in data[name]]
        return data


def refetch_shop(
    shop: Shop,
    *,
    tids: list[int] | None = None,
    modified_after: datetime | None = None,
    modified_before: datetime | None = None,
    client: TopClient | None = None,
) -> Outcome:
    """Re-pull ``tids`` (each with ``trade.fullinfo.get``) or the window; return the outcome,
    also kept as a sync run of kind ``refetch``."""
    client = client_for_shop(shop, client)
    run = runs.start_run(shop, "trades", SyncRun.Kind.REFETCH)
    counters, outcome = runs.Counters(), Outcome(run=run.pk)
    calls = runs.CallMeter(client)
    try:
        if tids is not None:
            _refetch_tids(shop, client, tids, outcome)
        elif modified_after is not None and modified_before is not None:
            _refetch_window(shop, client, modified_after, modified_before, counters, outcome)
        else:
            raise ValueError("give tids, or modified_after and modified_before")
    except Exception as error:
        _finish(run, calls, counters, outcome, error)
        if isinstance(error, SessionInvalid):
            actions.mark_needs_reauth(shop, f"{type(error).__name__}: {error}")
        raise
    _finish(run, calls, counters, outcome)
    return outcome


def _finish(
    run: SyncRun,
    calls: runs.CallMeter,
    counters: runs.Counters,
    outcome: Outcome,
    error: Exception | None = None,
) -> None:
    calls.settle(counters)
    counters.trades_seen, counters.trades_written = outcome.fetched, outcome.written
    if outcome.not_found:
        counters.notes.append(f"not found on the platform: {outcome.not_found}")
    if outcome.failed:
        counters.notes.append(f"not fetched (errors): {outcome.failed}")
    state = SyncRun.Outcome.FAILED if error else SyncRun.Outcome.SUCCEEDED
    runs.finish_run(run, counters, state, error)


def _refetch_tids(shop: Shop, client: TopClient, tids: list[int], outcome: Outcome) -> None:
    batch = [trade for tid in tids if (trade := _fetch(shop, client, tid, outcome)) is not None]
    result = write_trades(shop, batch, current=True)  # detail answers: always current
    outcome.written = result.written


def _fetch(shop: Shop, client: TopClient, tid: int, outcome: Outcome) -> dict[str, object] | None:
    """The trade in full, or None (counted as not found or failed)."""
    try:
        trade = api.trade_fullinfo_get(client, shop.session_key, tid, TRADE_FIELDS)
    except TradeNotFound:
        outcome.not_found.append(tid)
        return None
    except (SessionInvalid, RateLimited):
        raise  # nothing else will get through either: the job fails and says why
    except TopError:
        outcome.failed.append(tid)
        return None
    if malformed(trade, "tid"):
        outcome.failed.append(tid)
        return None
    outcome.fetched += 1
    return trade


def _refetch_window(
    shop: Shop,
    client: TopClient,
    start: datetime,
    end: datetime,
    counters: runs.Counters,
    outcome: Outcome,
) -> None:
    """Both streams over the window, up to platform time at most."""
    now = client.clock.now()
    end = min(end, now.replace(microsecond=0))
    check_window(start, end, now)
    for stream in ("trades", "refunds"):
        read_split(shop, STREAMS[stream], client, Window(start, end), counters)
    outcome.fetched, outcome.written = counters.trades_seen, counters.trades_written
