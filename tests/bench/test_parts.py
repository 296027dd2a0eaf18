"""A smoke run of each benchmark part at a tiny size: it runs end to end on real processes
and reports figures of the right shape, with its limits beside them. Never timed: no figure
is compared with a speed."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.core.management import call_command

from shops.models import Shop

pytestmark = pytest.mark.django_db(transaction=True)


def test_backfill_part_prints_its_source_and_write_limits():
    from tools.bench.backfill import measure_backfill

    figures = measure_backfill(300, log=lambda message: None)
    assert figures["trades_written"] == 300 and figures["rss_mb_peak"] > 0
    source, write = figures["limits"]["source"], figures["limits"]["write"]
    assert source["trades"] == 300 and source["pages"] >= 3  # every page read again
    assert write["trades"] == 300 and write["lines"] > 0  # the same rows copied in again
    assert not Shop.objects.exists()  # both shops removed with their rows


def test_feed_part_reads_every_change_through_the_api_and_psql(tmp_path):
    out = tmp_path / "bench.json"
    call_command(
        "bench", "feed", "--quick", "--feed-changes", "2500", "--json", str(out)
    )  # fmt: skip
    part = json.loads(out.read_text())["parts"]["feed"]
    figures = part["figures"]
    assert figures["changes"] == 2500 and figures["pages"] == 3
    assert figures["psql_changes_per_second"] > 0 and part["load_average_before"]
    page = out.with_suffix(".md").read_text()
    assert "## Aims and limits" in page and "change feed, 2,500 changes" in page


def test_api_part_measures_the_list_beside_its_psql_floor():
    from tools.bench import api, psql_floor

    shop = api.load_trades(300, 2, log=lambda message: None)
    token = api.read_key(shop)
    timing = api.time_in_process(token, 100, 5)
    queries = psql_floor.list_queries(token, 100)
    assert timing["requests"] == 5 and timing["p50_ms"] > 0
    assert any("trades_tradeline" in sql for sql in queries)
    assert psql_floor.time_in_psql(queries, repeat=3)["queries"] == len(queries) >= 1


def test_tmc_part_keeps_both_shops_equal_to_the_oracle():
    from tools.bench.tmc import lines, measure_tmc

    lag = settings.SYNC_LAG_SECONDS
    figures = measure_tmc(seconds=3, changes_per_minute=300, interval=1, lag=1, log=print)
    assert lag == settings.SYNC_LAG_SECONDS  # the part's lag did not outlive it
    for side in ("on", "off"):
        assert figures[side]["changes"] > 0 and figures[side]["matches_oracle"], figures
    assert figures["tmc"].get("messages:received", 0) > 0
    assert "TMC on  (TMC + polling)" in "\n".join(lines(figures))


@pytest.mark.e2e
def test_scheduler_part_runs_shops_through_the_dispatcher_and_one_qcluster():
    from tools.bench.scheduler import measure_scheduler

    # the test calls the dispatcher itself and samples 20 s, not a minute of each
    figures = measure_scheduler(6, 1, 1, 1, workers=2, log=print, driven=True, sample_seconds=20)
    assert figures["shops_run_in_first_cycle"] == 6
    assert figures["runs"]["succeeded"] > 0 and figures["runs"]["failed"] == 0
    assert figures["cursor_lag_seconds"]["samples"] > 0 and figures["timeline"]
    assert set(figures["cpu_percent_of_one_core"]) == {"qcluster", "postgresql", "sandbox"}


def test_steady_part_counts_calls_beside_the_minimum_at_both_overlaps(tmp_path):
    out = tmp_path / "bench.json"
    lag = settings.SYNC_LAG_SECONDS
    call_command(
        "bench", "--only", "steady", "--quick", "--steady-runs", "2", "--steady-interval", "1",
        "--steady-lag", "1", "--json", str(out),
    )  # fmt: skip
    assert lag == settings.SYNC_LAG_SECONDS  # the part's lag did not outlive it
    figures = json.loads(out.read_text())["parts"]["steady"]["figures"]
    default, short = figures["default"], figures["short"]
    assert default["visible_overlap_seconds"] == settings.SYNC_VISIBLE_OVERLAP_SECONDS
    assert short["visible_overlap_seconds"] == 5
    for side in (default, short):
        assert side["runs"] == len(side["by_run"]) == 2 and side["changed_trades"] > 0, side
        assert side["api_calls"] >= side["minimum_calls"] > 0, side
        assert side["ratio_to_minimum"] >= 1
    page = out.with_suffix(".md").read_text()
    assert "## 4d. API calls in steady state" in page
    assert "API calls per changed trade in steady state, visible overlap 5 s" in page
