"""The operations kit loads: the alert rules parse (and pass ``promtool`` where installed),
the dashboard is valid Grafana JSON, compose starts both under the observability profile with
the files mounted, and every metric they name is a series /metrics writes (docs/metrics.md)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "ordersync.json"
SUFFIXES = ("_bucket", "_sum", "_count")


def documented_series() -> set[str]:
    page = (ROOT / "docs" / "metrics.md").read_text()
    return set(re.findall(r"^\| `(ordersync_[a-z_]+)", page, re.M))


def named_metrics(expr: str) -> set[str]:
    """The ordersync series an expression reads (histogram and summary parts folded)."""
    names = set(re.findall(r"\bordersync_[a-z_]+", expr))
    return {next((n.removesuffix(s) for s in SUFFIXES if n.endswith(s)), n) for n in names}


def rules() -> list[dict]:
    return [
        rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
    ]


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [t["expr"] for p in panels for t in p.get("targets", [])]


def test_every_rule_has_an_expression_a_severity_and_a_summary():
    found = rules()
    assert len(found) >= 10
    for rule in found:
        assert rule["alert"] and rule["expr"].strip()
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]


def test_every_metric_the_rules_and_the_dashboard_name_exists():
    known = documented_series()
    exprs = [rule["expr"] for rule in rules()] + dashboard_exprs()
    named = set().union(*(named_metrics(e) for e in exprs))
    assert named and named <= known, named - known


def test_the_dashboard_covers_what_an_operator_watches():
    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] == "ordersync" and board["panels"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    named = set().union(*(named_metrics(e) for e in dashboard_exprs()))
    for series in (
        "ordersync_shops",  # shops by health
        "ordersync_cursor_lag_seconds",
        "ordersync_top_calls_total",
        "ordersync_limiter_ban_seconds_total",
        "ordersync_sync_runs_last_hour",  # runs by outcome
        "ordersync_webhook_deliveries_pending",  # webhook backlog
        "ordersync_channel_lag_seconds",  # feed lag
        "ordersync_reconcile_missing_found_total",  # reconcile findings
    ):
        assert series in named, series


def test_compose_starts_prometheus_and_grafana_with_both_loaded():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    prometheus, grafana = services["prometheus"], services["grafana"]
    assert prometheus["profiles"] == grafana["profiles"] == ["observability"]
    mounted = [v.split(":")[0] for v in prometheus["volumes"] + grafana["volumes"]]
    for source in mounted:
        if source.startswith("./"):
            assert (ROOT / source).exists(), source
    assert (
        "./deploy/prometheus/alerts.yml" in mounted and "./deploy/grafana/ordersync.json" in mounted
    )
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    provider = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/dashboards/ordersync.yml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_rules():
    check = ["promtool", "check", "rules", str(RULES)]
    result = subprocess.run(check, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
