"""The shared state in PostgreSQL, with real processes: one budget, bans honoured by all."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict

import pytest

from ordersync.taobao import api
from ordersync.taobao.limiter import TokenBucketLimiter
from ordersync.taobao.store import PgLimiterStore, client_for
from tests.support.taobao import control, run_workers


@pytest.mark.e2e
def test_a_ban_parks_this_process_and_another_one(make_app, faults, sandbox, state_db):
    ban = 8
    faults(ban_seconds=ban)
    app = make_app(calls_per_minute=3)  # the sandbox bans the 4th call of a minute
    client = client_for(app, calls_per_minute=1000)
    api.time_get(client)  # the clock's own time.get is the first call of the three
    api.time_get(client)
    # the other process is up before the ban (by then, on a loaded machine too) and calls
    # two seconds into it
    banned = time.time() + 6
    other = {"app": asdict(app), "calls_per_minute": 1000, "shop": "b", "start_at": banned + 2}
    results = {}
    thread = threading.Thread(
        target=lambda: results.update(other=run_workers(["one_call", json.dumps(other)]))
    )
    thread.start()
    while time.time() < banned:
        time.sleep(0.01)
    banned_at = time.monotonic()
    assert api.time_get(client)  # the 4th call: refused with a ban, waited out, retried
    assert time.monotonic() - banned_at >= ban  # this process waited the ban out
    thread.join()
    (second,) = results["other"]
    # the other process called inside the ban and was held until it ended
    assert second["waited"] >= 1.0
    stats = control(sandbox, "stats")
    # here: the clock's time.get, two calls, the refused one and its retry; there: one call
    assert stats["calls"]["taobao.time.get"][app.app_key] == 6
    assert stats["errors_returned"]["7"] >= 1


def _ban_stored(conn, app_key: str) -> bool:
    row = conn.execute(
        "SELECT state -> 'bans' FROM taobao_apibudget WHERE app_key = %s", [app_key]
    ).fetchone()
    return bool(row and row[0])


@pytest.mark.e2e
@pytest.mark.alone  # the idle shop's waits, on the wall clock
def test_two_processes_share_one_budget_and_an_idle_shop_is_served(make_app, sandbox, state_db):
    budget = 240  # per minute: a burst of 12, then 3.8 calls a second
    app = make_app(calls_per_minute=budget)  # the sandbox bans anything over it
    bans_before = control(sandbox, "stats")["bans_issued"]
    start_at = time.time() + 6  # both processes are up by then, on a loaded machine too
    seconds = 5.0
    busy = {
        "app": asdict(app),
        "calls_per_minute": budget,
        "shop": "busy",
        "threads": 3,
        "start_at": start_at,
        "end_at": start_at + seconds,
    }
    idle_waits = []

    def idle_shop() -> None:
        limiter = TokenBucketLimiter(PgLimiterStore(), budget)
        client = client_for(app, calls_per_minute=budget, limiter=limiter)
        api.time_get(client)  # measure the clock before the busy shop starts
        while time.time() < start_at + 1:
            time.sleep(0.01)
        while time.time() < start_at + seconds - 0.5:
            before = limiter.wait_seconds
            client.call("taobao.time.get", {}, shop_key="idle")
            idle_waits.append(limiter.wait_seconds - before)
            time.sleep(0.4)

    thread = threading.Thread(target=idle_shop)
    thread.start()
    first, second = run_workers(["hammer", json.dumps(busy)], ["hammer", json.dumps(busy)])
    thread.join()
    stats = control(sandbox, "stats")
    total = stats["calls"]["taobao.time.get"][app.app_key]
    burst, rate = TokenBucketLimiter(PgLimiterStore(), budget).budget(app.app_key)
    allowed = burst + rate * (seconds + 3.5)  # the run, plus the clock's calls before it
    print(f"total={total} allowed={allowed:.1f} idle_waits={idle_waits} {first} {second}")
    assert total <= allowed
    assert stats["bans_issued"] == bans_before and _refused(first, second) == 0
    assert first["outcomes"].get("ok", 0) + second["outcomes"].get("ok", 0) >= rate * seconds * 0.8
    assert len(idle_waits) >= 6
    # one token comes every 1/rate = 0.26 s; the idle shop never queues behind six busy threads
    assert max(idle_waits) < 2.5 / rate


def _refused(*results) -> int:
    return sum(n for r in results for k, n in r["outcomes"].items() if k != "ok")


def test_a_fleet_of_clocks_on_the_database_makes_one_time_get(state_db):
    from datetime import datetime

    from ordersync.taobao.clock import PlatformClock
    from ordersync.taobao.store import PgClockStore
    from ordersync.taobao.types import PLATFORM_TZ

    calls = []

    def fetch() -> datetime:
        calls.append(1)
        return datetime.fromtimestamp(int(time.time() + 90), PLATFORM_TZ)

    clocks = [PlatformClock(PgClockStore(), fetch, 300, key="fleet") for _ in range(30)]
    readings = [clock.now().timestamp() - time.time() for clock in clocks]
    assert len(calls) == 1
    assert all(89 <= r <= 91.5 for r in readings)


def test_limiter_state_commits_outside_the_callers_transaction(state_db):
    import psycopg
    from django.db import connection, transaction

    limiter = TokenBucketLimiter(PgLimiterStore(), 60)
    with transaction.atomic():
        limiter.record_ban("outside-txn", "app", "m", 30)
        # a third connection sees the ban while the caller's transaction is still open
        info = state_db.info
        with psycopg.connect(
            dbname=connection.settings_dict["NAME"],
            host=info.host,
            user=info.user,
            port=info.port,
        ) as other:
            assert _ban_stored(other, "outside-txn")
