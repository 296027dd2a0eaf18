"""/healthz and /metrics read the shared database, so they cover every process."""

from __future__ import annotations

import json
import re
import signal
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import timezone
from django_q.models import Schedule

from ordersync.models import Heartbeat
from ordersync.taobao.stats import call_stats
from ordersync.tasks import CLUSTER, heartbeat
from shops.actions import ensure_checkpoints
from shops.models import Checkpoint, Shop, TopApp
from shops.top import client_for_shop
from tests.support.processes import PRODUCTION, manage, settings_values
from tests.support.waiting import wait_until
from trades.sync.incremental import sync_shop
from trades.tmc.models import TmcShop

SAMPLE = re.compile(r'^[a-z_]+(\{([a-z_]+="[^"]*",?)+\})? -?[0-9.e+]+$')


def test_healthz_needs_a_recent_cluster_heartbeat(client, db):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "ok"
    assert "no cluster heartbeat" in response.json()["checks"]["cluster"]

    heartbeat()
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["broker"].startswith("ok")

    Heartbeat.objects.update(beat_at=timezone.now() - timedelta(minutes=10))
    assert client.get("/healthz").status_code == 503


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_starting_cluster_beats_before_its_first_schedule():
    """The heartbeat schedule cannot run (its next run is an hour away): the beat that makes
    ``/healthz`` healthy comes from the starting worker, through the broker."""
    later = timezone.now() + timedelta(hours=1)
    assert Schedule.objects.filter(func="ordersync.tasks.heartbeat").update(next_run=later)
    cluster = manage("qcluster", env={"Q_WORKERS": "1"})
    try:
        beat = Heartbeat.objects.filter(name=CLUSTER)
        wait_until(beat.exists, timeout=60, what="the heartbeat of a starting cluster")
    finally:
        cluster.send_signal(signal.SIGTERM)
        cluster.communicate(timeout=60)


@override_settings(ALLOWED_HOSTS=["ordersync.example.com"])
def test_probes_answer_on_any_host_while_other_pages_check_it(client, db):
    """The compose healthcheck asks 127.0.0.1 and Prometheus asks web:8000."""
    heartbeat()
    response = client.get("/healthz", HTTP_HOST="127.0.0.1:8000")
    assert response.status_code == 200, response.content
    assert response.json()["healthy"] is True
    response = client.get("/metrics", HTTP_HOST="web:8000")
    assert response.status_code == 200
    assert "ordersync_change_feed_rows" in response.content.decode()
    # the rest of the site still refuses a host outside ALLOWED_HOSTS
    assert client.get("/admin/login/", HTTP_HOST="127.0.0.1:8000").status_code == 400
    assert client.get("/api/v1/trades/", HTTP_HOST="web:8000").status_code == 400
    assert client.get("/admin/login/", HTTP_HOST="ordersync.example.com").status_code == 200


def test_metrics_show_calls_lag_and_runs_in_prometheus_format(client, make_shop, gateway):
    shop = make_shop("metered", history_trades=20, history_days=1)
    Checkpoint.objects.filter(shop=shop).update(cursor=timezone.now() - timedelta(minutes=20))
    sync_shop(shop, "trades", client=client_for_shop(shop))
    call_stats.flush()

    response = client.get("/metrics")
    assert response.status_code == 200
    body = response.content.decode()
    for line in body.splitlines():
        assert line.startswith("#") or SAMPLE.match(line), line
    assert 'method="taobao.trades.sold.incrementv.get",outcome="ok",code="0"' in body
    assert 'ordersync_top_call_duration_seconds_bucket{method="taobao.time.get",le="+Inf"}' in body
    labels = f'tenant="tenant-a",shop_id="{shop.pk}",shop="{shop.seller_nick}",stream="trades"'
    assert f"ordersync_cursor_lag_seconds{{{labels}}}" in body
    assert 'ordersync_sync_runs_last_hour{kind="incremental",outcome="succeeded"} 1' in body
    assert "ordersync_change_feed_rows" in body


def _series(body: str) -> list[str]:
    """Each sample's name and labels: what Prometheus requires to be unique."""
    return [line.rsplit(" ", 1)[0] for line in body.splitlines() if not line.startswith("#")]


def test_shops_with_the_same_nick_are_distinct_series(client, tenant_a, tenant_b, top_app):
    other_app = TopApp.objects.create(
        name="Other app", app_key="87654321", app_secret="s", gateway_url="http://127.0.0.1:9/"
    )
    shops = [
        Shop.objects.create(tenant=tenant_a, app=top_app, seller_nick="twin", seller_id=1),
        Shop.objects.create(tenant=tenant_b, app=other_app, seller_nick="twin", seller_id=1),
    ]
    for shop in shops:
        ensure_checkpoints(shop)
    Checkpoint.objects.update(cursor=timezone.now() - timedelta(minutes=5))
    for shop in shops:
        TmcShop.objects.create(shop=shop, freshness_seconds=1.5)

    body = client.get("/metrics").content.decode()
    series = _series(body)
    assert len(series) == len(set(series)), "duplicate series"
    for shop in shops:
        labels = f'tenant="{shop.tenant.slug}",shop_id="{shop.pk}",shop="twin"'
        assert f'ordersync_cursor_lag_seconds{{{labels},stream="trades"}}' in body
        assert f"ordersync_tmc_shop_freshness_seconds{{{labels}}} 1.5" in body


@override_settings(METRICS_TOKEN="scrape-token-7f3a")
def test_metrics_token_is_required_when_set(client, db):
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "ordersync_" not in response.content.decode()
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-7f3b")
    assert wrong.status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-7f3a")
    assert response.status_code == 200
    assert "ordersync_change_feed_rows" in response.content.decode()
    # the health probe stays open: container healthchecks send no token
    assert client.get("/healthz").status_code in (200, 503)


def test_each_sync_run_logs_one_json_line_without_secrets(make_shop, gateway, caplog):
    shop = make_shop("logged", history_trades=5, history_days=1)
    Checkpoint.objects.filter(shop=shop).update(cursor=timezone.now() - timedelta(minutes=20))
    with caplog.at_level("DEBUG"):
        sync_shop(shop, "trades", client=client_for_shop(shop))

    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("sync_run ")]
    assert len(lines) == 1
    fields = json.loads(lines[0].removeprefix("sync_run "))
    assert fields["shop"] == shop.pk and fields["outcome"] == "succeeded"
    assert fields["api_calls"] >= 1 and "trades_written" in fields
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert shop.session_key not in everything
    assert shop.app.app_secret not in everything


def test_a_failing_broker_shows_its_kind_not_its_address(client, db, settings, caplog):
    heartbeat()
    settings.REDIS_URL = "redis://secret-user:pw@127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz")
    assert response.status_code == 503
    shown = response.json()["checks"]["broker"]
    assert shown.startswith("failing: ") and "(details in the log)" in shown
    assert "127.0.0.1" not in shown and "secret-user" not in shown
    assert "health check broker failed" in caplog.text


@override_settings(METRICS_NEED_TOKEN=True, METRICS_TOKEN="")
def test_production_serves_no_metrics_without_a_token(client, make_shop, gateway):
    make_shop("secret-nick", history_trades=1, history_days=1)
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer "}, {"HTTP_HOST": "anything:8000"}):
        response = client.get("/metrics", **headers)
        assert response.status_code == 404
        assert "secret-nick" not in response.content.decode()
        assert "METRICS_TOKEN" in response.content.decode()
    assert client.get("/healthz").status_code in (200, 503)


@override_settings(METRICS_NEED_TOKEN=True, METRICS_TOKEN="scrape-token-7f3a")
def test_production_serves_metrics_with_the_token(client, db):
    assert client.get("/metrics").status_code == 401
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-7f3a")
    assert ok.status_code == 200


def test_debug_off_means_metrics_need_a_token():
    cases = [PRODUCTION, {"DEBUG": "True"}]
    assert settings_values(cases, ["METRICS_NEED_TOKEN"]) == ["True", "False"]


def test_per_shop_flags_are_prometheus_booleans(client, tenant_a, tenant_b, top_app):
    healthy = Shop.objects.create(tenant=tenant_a, app=top_app, seller_nick="ok", seller_id=1)
    slow = Shop.objects.create(
        tenant=tenant_b, app=top_app, seller_nick="slow", seller_id=2, degraded=True
    )
    locked = Shop.objects.create(
        tenant=tenant_b,
        app=top_app,
        seller_nick="locked",
        seller_id=3,
        status=Shop.Status.NEEDS_REAUTH,
    )

    body = client.get("/metrics").content.decode()
    for line in body.splitlines():
        assert line.startswith("#") or SAMPLE.match(line), line

    def flag(name: str, shop: Shop) -> str:
        labels = f'tenant="{shop.tenant.slug}",shop_id="{shop.pk}",shop="{shop.seller_nick}"'
        (line,) = [row for row in body.splitlines() if row.startswith(f"{name}{{{labels}}} ")]
        return line.rsplit(" ", 1)[1]

    assert [flag("ordersync_shop_degraded", s) for s in (healthy, slow, locked)] == ["0", "1", "0"]
    assert [flag("ordersync_shop_needs_reauth", s) for s in (healthy, slow, locked)] == [
        "0",
        "0",
        "1",
    ]
    # no Python spelling of a boolean anywhere
    assert "True" not in body and "False" not in body
    assert 'ordersync_shops{status="active",degraded="true"} 1' in body
    assert 'ordersync_shops{status="active",degraded="false"} 1' in body


def test_build_info_names_the_versions_running(client, db):
    import platform
    from importlib import metadata

    import django

    body = client.get("/metrics").content.decode()
    assert "# TYPE ordersync_build_info gauge" in body
    expected = (
        f'ordersync_build_info{{version="{metadata.version("ordersync")}",'
        f'python="{platform.python_version()}",django="{django.get_version()}"}} 1'
    )
    assert expected in body.splitlines()


def test_every_series_is_documented(client, tenant_a, top_app):
    """docs/metrics.md has a row for each family /metrics writes, and no row for one it does
    not."""
    shop = Shop.objects.create(tenant=tenant_a, app=top_app, seller_nick="doc", seller_id=1)
    ensure_checkpoints(shop)
    Checkpoint.objects.update(cursor=timezone.now() - timedelta(minutes=5))
    body = client.get("/metrics").content.decode()
    families = set(re.findall(r"^# TYPE (\S+) ", body, re.M))
    page = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()
    documented = set(re.findall(r"^\| `(ordersync_[a-z_]+)", page, re.M))
    assert families == documented
