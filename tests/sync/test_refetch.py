"""A targeted re-pull fetches the trades named (or re-reads a window) from the sandbox and
writes them through the write path, moving no cursor; its outcome is a run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ordersync.taobao.types import parse_time
from shops.models import Checkpoint, SyncRun
from shops.refetch import BadRefetch, parse_tids, refetch_params
from trades.models import Trade
from trades.sync.refetch import refetch_shop

pytestmark = pytest.mark.django_db(transaction=True)
UNKNOWN = 9_123_456_789_012_345_678


def test_tids_are_fetched_and_written_and_an_unknown_one_is_reported(make_shop, gateway):
    shop = make_shop("refetch-tids", history_trades=20, history_days=2)
    tids = sorted(gateway.oracle_trades("refetch-tids"))[:3]
    outcome = refetch_shop(shop, tids=[*tids, UNKNOWN])
    assert (outcome.fetched, outcome.written) == (3, 3)
    assert outcome.not_found == [UNKNOWN] and outcome.failed == []
    stored = Trade.objects.filter(shop=shop)
    assert sorted(stored.values_list("tid", flat=True)) == tids
    assert all(trade.lines.exists() for trade in stored)  # fullinfo: with the sub-orders
    run = SyncRun.objects.get(pk=outcome.run)
    assert (run.kind, run.outcome, run.trades_written) == ("refetch", "succeeded", 3)
    assert str(UNKNOWN) in run.notes[0]
    again = refetch_shop(shop, tids=tids)  # re-reading is harmless
    assert (again.fetched, again.written) == (3, 0)


def test_a_window_is_re_read_and_no_cursor_moves(make_shop, gateway):
    shop = make_shop("refetch-window", history_trades=200, history_days=2)
    truth = gateway.oracle_trades("refetch-window")
    newest = max(parse_time(t["modified"]) for t in truth.values())
    start, end = newest - timedelta(hours=6), newest + timedelta(seconds=1)
    inside = {tid for tid, t in truth.items() if start <= parse_time(t["modified"]) <= end}
    cursors = list(Checkpoint.objects.filter(shop=shop).values_list("stream", "cursor"))
    outcome = refetch_shop(shop, modified_after=start, modified_before=end)
    assert inside and outcome.written >= len(inside)
    assert set(Trade.objects.filter(shop=shop).values_list("tid", flat=True)) >= inside
    assert list(Checkpoint.objects.filter(shop=shop).values_list("stream", "cursor")) == cursors


def test_the_command_runs_a_re_pull(make_shop, gateway, capsys):
    shop = make_shop("refetch-cmd", history_trades=5, history_days=1)
    tid = min(gateway.oracle_trades("refetch-cmd"))
    call_command("refetch", "refetch-cmd", "--tids", str(tid), str(UNKNOWN))
    out = capsys.readouterr().out
    assert "fetched 1, written 1, not found 1" in out and str(UNKNOWN) in out
    assert Trade.objects.filter(shop=shop, tid=tid).exists()
    with pytest.raises(CommandError, match="after modified_after"):
        call_command(
            "refetch", "refetch-cmd", "--modified-after", "2026-11-11 10:00",
            "--modified-before", "2026-11-11 09:00",
        )  # fmt: skip


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"tids": list(range(1, 102))}, "101 tids given; at most 100"),
        ({"tids": ["12", "x"]}, "'x' is not a trade id"),
        ({"tids": []}, "non-empty list"),
        ({"modified_after": "2026-11-11T10:00", "modified_before": "2026-11-11T09:00"}, "after"),
        ({"modified_after": "2026-11-10T10:00", "modified_before": "2026-11-11T10:01"}, "at most"),
        ({"modified_after": "2026-01-01T10:00", "modified_before": "2026-01-01T11:00"}, "scope"),
        ({"modified_after": "yesterday", "modified_before": "2026-11-11T09:00"}, "not a time"),
        ({"tids": [1], "modified_after": "2026-11-11T10:00"}, "either"),
        ({}, "either"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(request_, message):
    now = parse_time("2026-11-12 00:00:00")
    with pytest.raises(BadRefetch, match=message):
        refetch_params(**request_, now=now)


def test_tids_come_as_numbers_strings_or_text():
    assert parse_tids([1, "2", 1]) == [1, 2]
    assert parse_tids("3, 4\n5 3") == [3, 4, 5]
