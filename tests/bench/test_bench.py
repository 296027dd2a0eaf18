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
@pytest.mark.alone  # no record late during the run, on the wall clock
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
    assert "ordersync vs the naive scheme" in out.with_suffix(".md").read_text()
    # the benchmark removes what it made
    assert not Tenant.objects.filter(slug__startswith="bench-").exists()
    assert not Shop.objects.exists()


def test_webhooks_part_delivers_every_event(db):
    from tools.bench.webhooks import measure_webhooks

    figures = measure_webhooks(quick=True)
    assert figures["measured"] and figures["delivered"] == figures["events"] == 1000
    assert figures["received"] >= 1000 and figures["deliveries_per_second"] > 0
