"""``manage.py bench`` end to end on its smallest part: the figures are written, and on the
chaos scenario the naive scheme loses trades while ordersync loses none, by content and while
the faults are on. A correctness check of the benchmark, never a timed one."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from shops.models import Shop, Tenant

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.e2e
def test_bench_naive_part_writes_its_figures(tmp_path):
    out = tmp_path / "bench.json"
    call_command("bench", "--quick", "--only", "naive", "--chaos-seconds", "6", "--json", str(out))

    results = json.loads(out.read_text())
    assert {"cores", "ram_gb", "python", "postgresql", "load_average"} <= results["machine"].keys()
    part = results["parts"]["naive"]
    assert {"command", "measured_at", "load_average_before", "figures"} <= part.keys()
    ours, naive = part["figures"]["ordersync"], part["figures"]["naive"]
    for side in (ours, naive):
        assert {
            "trades_lost",
            "refunds_lost",
            "late_during_run",
            "api_calls_per_changed_trade",
            "api_calls_per_changed_refund",
            "sync_seconds",
        } <= side.keys()
        assert side["trades"] > 0
    assert ours["trades_lost"] == 0 and ours["refunds_lost"] == 0
    # checked by content while the faults were on, not only after a quiet last pass
    assert part["figures"]["checks_during_run"] > 0 and ours["late_during_run"] == 0
    assert naive["trades_lost"] + naive["refunds_lost"] > 0
    assert_caught_up(part["figures"])
    page = out.with_suffix(".md").read_text()
    assert "ordersync vs the naive scheme" in page and "chaos: ordersync after the market" in page
    # the benchmark removes what it made
    assert not Tenant.objects.filter(slug__startswith="bench-").exists()
    assert not Shop.objects.exists()


def test_webhooks_part_delivers_every_event(db):
    from tools.bench.webhooks import measure_webhooks

    figures = measure_webhooks(quick=True)
    assert figures["measured"] and figures["delivered"] == figures["events"] == 1000
    assert figures["received"] >= 1000 and figures["deliveries_per_second"] > 0


def assert_caught_up(figures: dict) -> None:
    """After the market: the engine's passes went on until its store equalled the ground
    truth, past the sandbox's largest lag; the naive scheme's stopped with records lost, and
    the first quiet pass's count is kept beside the end's."""
    ours, naive = figures["ordersync"], figures["naive"]
    assert ours["caught_up"] and ours["catch_up_passes"] >= 1 and ours["catch_up_seconds"] > 0
    assert not naive["caught_up"] and naive["catch_up_seconds"] is None
    assert naive["passes_ended_seconds"] > 0
    for side in (ours, naive):
        assert side["first_pass"]["trades_lost"] >= side["trades_lost"]
        assert side["first_pass"]["sync_seconds"] <= side["sync_seconds"]
    # the last comparison came after every change could be listed
    assert figures["last_comparison_seconds"] >= figures["largest_lag_seconds"]
    assert figures["rounds_after_market"] > 0 and figures["market_seconds"] >= figures["seconds"]


@pytest.mark.e2e
def test_bench_double11_part_catches_up_after_the_burst(tmp_path):
    out = tmp_path / "bench.json"
    call_command(
        "bench", "double11", "--burst-trades", "300", "--burst-minutes", "0.2",
        "--catch-up-minutes", "5", "--json", str(out),
    )  # fmt: skip

    figures = json.loads(out.read_text())["parts"]["double11"]["figures"]
    ours = figures["ordersync"]
    assert ours["trades"] > 0 and ours["trades_lost"] == 0 and ours["refunds_lost"] == 0
    assert ours["fullinfo_calls"] > 0  # peak-mode lists: the sub-orders came from fullinfo
    assert_caught_up(figures)
    page = out.with_suffix(".md").read_text()
    assert "Double 11 burst: ordersync after the market" in page
    assert "quiet passes after the market (the first one included)" in page
    assert not Shop.objects.exists()
