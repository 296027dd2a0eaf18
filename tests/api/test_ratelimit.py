"""The rate limits: atomic across processes, per address for failures, and pruned."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from ordersync import ratelimit
from ordersync.models import Heartbeat, RateCounter
from ordersync.tasks import heartbeat
from tests.support.api import client_for
from trades.api.auth import ApiKeyRateThrottle
from trades.api.keys import create_api_key


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_stress_24_clients_on_gunicorn_get_no_more_than_the_budget(capsys):
    """Real gunicorn workers, 24 client threads started together, 4 requests each."""
    call_command(
        "bench",
        "ratelimit",
        "--budget=30",
        "--clients=24",
        "--requests-per-client=4",
        "--workers=3",
        "--seconds=50",
        "--json",
    )
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["requests"] == 96 and figures["other"] == {}
    # all within one window: exactly the budget, never more
    assert figures["allowed"] == 30 and figures["throttled"] == 66
    assert figures["held"]


def test_a_counter_is_one_statement_per_hit(db):
    rate = ratelimit.Rate(requests=2, seconds=60)
    hits = [ratelimit.hit("key:x", rate) for _ in range(3)]
    assert [h.count for h in hits] == [1, 2, 3]
    assert [h.allowed for h in hits] == [True, True, False]
    assert 0 < hits[-1].retry_after <= 60


def test_an_ended_window_starts_over(db):
    rate = ratelimit.Rate(requests=1, seconds=60)
    ratelimit.hit("key:x", rate)
    RateCounter.objects.filter(key="key:x").update(window_ends=timezone.now() - timedelta(1))
    assert ratelimit.hit("key:x", rate).count == 1


def flushed_past_the_start(write, times: int = 20) -> int:
    """How many of ``times`` commits of ``write`` returned with the write-ahead log flushed
    past where it stood before the write: always, for a commit that waits for the disk.
    Other backends (the other test workers) write WAL all the time, so "past the start" is
    what can be asked, not "nothing unflushed"."""
    flushed = 0
    with connection.cursor() as cursor:
        for _ in range(times):
            cursor.execute("SELECT pg_current_wal_insert_lsn()")
            (start,) = cursor.fetchone()
            write()
            cursor.execute("SELECT pg_current_wal_flush_lsn() > %s::pg_lsn", [start])
            flushed += cursor.fetchone()[0]
    return flushed


@pytest.mark.django_db(transaction=True)
def test_a_hit_commits_without_waiting_for_the_disk():
    """Every API request commits a hit: the counter is unlogged, so its commit returns without
    flushing the write-ahead log, where a commit to a logged table waits for the flush."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relpersistence FROM pg_class WHERE oid = %s::regclass",
            [RateCounter._meta.db_table],
        )
        assert cursor.fetchone() == ("u",)
        # as deployed: the test databases turn synchronous_commit off
        cursor.execute("SET synchronous_commit = on")
        try:
            rate = ratelimit.Rate(requests=100, seconds=60)
            hits = flushed_past_the_start(lambda: ratelimit.hit("key:wal", rate))
            logged = flushed_past_the_start(
                lambda: Heartbeat.objects.update_or_create(
                    name="wal", defaults={"beat_at": timezone.now()}
                )
            )
        finally:
            cursor.execute("RESET synchronous_commit")
    # a logged commit waits for its flush, every time; the WAL writer may flush a hit's
    # record in the instant before the check: most hits, not all
    assert logged == 20 and hits <= 5, f"flushed: {hits} of 20 hits, {logged} of 20 logged"


def test_requests_without_a_usable_key_are_limited_per_address(tenant_a, monkeypatch):
    monkeypatch.setitem(ApiKeyRateThrottle.THROTTLE_RATES, "address", "3/min")
    anonymous = client_for(None)
    guesser = client_for("osk_000000000000_guess")
    codes = [anonymous.get("/api/v1/trades/").status_code for _ in range(2)]
    codes += [guesser.get("/api/v1/trades/").status_code for _ in range(2)]
    assert codes == [401, 401, 401, 429]
    response = guesser.get("/api/v1/trades/", REMOTE_ADDR="10.0.0.9")  # another address
    assert response.status_code == 401
    throttled = anonymous.get("/api/v1/trades/")
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0
    # a good key is not counted against, nor refused by, its address's failures
    good = client_for(create_api_key(tenant_a, "ERP").token)
    assert good.get("/api/v1/trades/").status_code == 200


@pytest.mark.parametrize(("proxies", "expected"), [(0, "127.0.0.1"), (1, "203.0.113.7")])
def test_client_address_trusts_only_declared_proxies(rf, settings, proxies, expected):
    settings.NUM_PROXIES = proxies
    request = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    assert ratelimit.client_address(request) == expected


def test_the_heartbeat_prunes_ended_windows_and_expired_cache_rows(db):
    rate = ratelimit.Rate(requests=1, seconds=60)
    for n in range(3):
        ratelimit.hit(f"address:10.0.0.{n}", rate)
    ratelimit.hit("key:live", rate)
    RateCounter.objects.exclude(key="key:live").update(window_ends=timezone.now() - timedelta(1))
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ordersync_cache (cache_key, value, expires) "
            "VALUES ('old', 'x', now() - interval '1 day'), ('new', 'x', now() + interval '1 day')"
        )
    heartbeat()
    assert list(RateCounter.objects.values_list("key", flat=True)) == ["key:live"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key FROM ordersync_cache")
        assert cursor.fetchall() == [("new",)]


@pytest.mark.django_db
def test_the_counter_table_skips_the_write_ahead_log():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relpersistence FROM pg_class WHERE relname = 'ordersync_ratecounter'"
        )
        assert cursor.fetchone() == ("u",)
