"""A failed backfill (or reconcile) is queued again by the scheduled sync once it is due."""

from __future__ import annotations

import io

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import OrmQ

from shops.models import Checkpoint, SyncRun
from shops.top import client_for_shop
from trades.models import Trade
from trades.sync.backfill import backfill_shop
from trades.sync.locks import RUN_LOCK, is_locked
from trades.tasks import sync_shop_task

pytestmark = pytest.mark.django_db(transaction=True)


def queued() -> list[tuple[str, tuple]]:
    return [(q.task["func"], tuple(q.task["args"])) for q in OrmQ.objects.order_by("id")]


def status_line(shop) -> str:
    out = io.StringIO()
    call_command("sync_status", stdout=out)
    return next(line for line in out.getvalue().splitlines() if shop.seller_nick in line)


def other_connection(dbname: str | None = None) -> psycopg.Connection:
    """A second connection to this test's database, or to ``dbname`` on the same server."""
    params = connection.get_connection_params()
    params["dbname"] = dbname or params["dbname"]
    keys = ("dbname", "user", "host", "port")
    return psycopg.connect(**{k: params[k] for k in keys if params.get(k)}, autocommit=True)


def test_a_run_lock_held_in_another_database_of_the_server_is_not_this_ones(make_shop):
    (checkpoint, *_) = Checkpoint.objects.filter(shop=make_shop("elsewhere"))
    with other_connection("postgres") as other:  # same keys, another database
        other.execute("SELECT pg_advisory_lock(%s, %s)", [RUN_LOCK, checkpoint.pk])
        assert not is_locked(checkpoint.pk)
    with other_connection() as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [RUN_LOCK, checkpoint.pk])
        assert is_locked(checkpoint.pk)


def test_a_failed_backfill_is_resumed_by_the_scheduled_sync(make_shop, gateway, settings):
    settings.TOP_MAX_ATTEMPTS = 1
    shop = make_shop("unfinished", history_trades=60, history_days=2)
    client_for_shop(shop).clock.now()  # the clock is measured before the fault
    gateway.faults(isp_rate=1.0)
    assert backfill_shop(shop, 3).outcome == SyncRun.Outcome.FAILED
    gateway.faults(isp_rate=0.0)
    backfill = Checkpoint.objects.get(shop=shop, stream="backfill")
    assert "trades 0%, failed ×1" in status_line(shop)

    # backing off after the failure: not yet
    assert "backfill: queued" not in sync_shop_task(shop.pk)
    assert queued() == []

    Checkpoint.objects.filter(pk=backfill.pk).update(next_run_at=None)
    with other_connection() as other:  # a backfill of this shop is running elsewhere
        other.execute("SELECT pg_advisory_lock(%s, %s)", [RUN_LOCK, backfill.pk])
        assert "trades 0%, running" in status_line(shop)
        assert "backfill: queued" not in sync_shop_task(shop.pk)
        assert queued() == []

    assert "backfill: queued" in sync_shop_task(shop.pk)  # due, and nobody runs it
    assert queued() == [("trades.tasks.backfill_shop_task", (shop.pk,))]
    assert "backfill: queued" not in sync_shop_task(shop.pk)  # queued once, not every sync
    assert len(queued()) == 1

    (task,) = OrmQ.objects.all()
    assert import_string(task.task["func"])(*task.task["args"]) == SyncRun.Outcome.SUCCEEDED
    assert Trade.objects.filter(shop=shop).count() == 60
    backfill.refresh_from_db()
    assert backfill.progress.get("finished_at") and backfill.next_run_at is None
    assert " done " in status_line(shop)
    task.delete()
    assert "backfill: queued" not in sync_shop_task(shop.pk)  # finished: never again


def test_a_failed_reconcile_is_queued_again_once_due(make_shop, gateway, settings):
    from trades.sync.reconcile import reconcile_shop

    settings.TOP_MAX_ATTEMPTS = 1
    shop = make_shop("recheck", history_trades=10, history_days=1)
    client_for_shop(shop).clock.now()
    gateway.faults(isp_rate=1.0)
    assert reconcile_shop(shop) == []
    gateway.faults(isp_rate=0.0)
    Checkpoint.objects.filter(shop=shop, stream="reconcile").update(
        next_run_at=timezone.now() - timezone.timedelta(seconds=1)
    )
    assert "reconcile: queued" in sync_shop_task(shop.pk)
    assert queued() == [("trades.tasks.reconcile_shop_task", (shop.pk,))]


def test_a_backfill_task_stops_in_time_and_the_sync_queues_the_rest(make_shop, settings):
    from trades.tasks import backfill_shop_task

    settings.SYNC_RUN_TIME_LIMIT = 0  # stop after the first slice
    shop = make_shop("long-history", history_trades=60, history_days=3)
    assert backfill_shop_task(shop.pk, 4) == SyncRun.Outcome.SUCCEEDED
    backfill = Checkpoint.objects.get(shop=shop, stream="backfill")
    state = backfill.progress
    assert not state.get("finished_at") and state["trades_done_until"] > state["from"]
    assert state["trades_done_until"] < state["until"]  # one slice of four

    assert "backfill: queued" in sync_shop_task(shop.pk)
    (task,) = OrmQ.objects.all()
    settings.SYNC_RUN_TIME_LIMIT = 300
    assert import_string(task.task["func"])(*task.task["args"]) == SyncRun.Outcome.SUCCEEDED
    backfill.refresh_from_db()
    assert backfill.progress.get("finished_at")
    assert Trade.objects.filter(shop=shop).count() == 60
