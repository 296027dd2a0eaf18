"""One dispatcher queues the due shops: each once, never a shop another dispatcher holds,
keeping each shop's phase; and the migration turns per-shop schedules into due times."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from ordersync.taobao.types import PLATFORM_TZ
from shops import schedules
from shops.models import Shop
from shops.schedules import (
    DISPATCH_AHEAD,
    RECONCILE_TASK,
    SYNC_TASK,
    dispatch_due_shops,
    next_due,
    sync_schedules,
)
from trades import tasks as trade_tasks

pytestmark = pytest.mark.django_db(transaction=True)


def queued() -> list[tuple[str, int]]:
    """(task, shop) of each shop queued; a batch task names several."""
    found = []
    for package in OrmQ.objects.all():
        first = package.task["args"][0]
        shop_ids = first if isinstance(first, list) else [first]
        found += [(package.task["func"], shop_id) for shop_id in shop_ids]
    return sorted(found)


@pytest.fixture
def shops(tenant_a, top_app) -> list[Shop]:
    made = [
        Shop.objects.create(
            tenant=tenant_a, app=top_app, seller_nick=f"s{n}", seller_id=n, interval_minutes=5
        )
        for n in range(1, 6)
    ]
    for shop in made:
        sync_schedules(shop)
    return made


def test_due_shops_are_queued_once_and_stamped_one_interval_on(shops):
    now = timezone.now()
    later = now + DISPATCH_AHEAD + timedelta(minutes=1)
    Shop.objects.filter(pk=shops[4].pk).update(next_sync_at=later)  # not due yet
    Shop.objects.filter(pk=shops[3].pk).update(status=Shop.Status.PAUSED)  # due, but paused
    Shop.objects.filter(pk=shops[0].pk).update(next_reconcile_at=now - timedelta(seconds=1))

    assert dispatch_due_shops(now) == {"sync": 3, "reconcile": 1}
    assert queued() == sorted(
        [(SYNC_TASK, s.pk) for s in shops[:3]] + [(RECONCILE_TASK, shops[0].pk)]
    )
    assert dispatch_due_shops(now) == {"sync": 0, "reconcile": 0}  # stamped: not again
    for shop in shops[:3]:
        shop.refresh_from_db()
        assert now + timedelta(minutes=4) < shop.next_sync_at <= now + timedelta(minutes=5)
    shops[0].refresh_from_db()
    local = shops[0].next_reconcile_at.astimezone(PLATFORM_TZ)
    assert shops[0].next_reconcile_at > now and local.hour == settings.RECONCILE_HOUR


def test_a_shop_another_dispatcher_holds_is_skipped_not_waited_for(shops):
    """Two real connections: the row this test locks is skipped by a dispatcher in a thread,
    which queues every other due shop at once, and is queued by the next pass."""
    held, finished = shops[0], threading.Event()
    counts: list[dict[str, int]] = []

    def other_dispatcher() -> None:
        try:
            counts.append(dispatch_due_shops())
        finally:
            connection.close()
            finished.set()

    with transaction.atomic():
        Shop.objects.select_for_update().get(pk=held.pk)
        thread = threading.Thread(target=other_dispatcher)
        thread.start()
        assert finished.wait(30), "the dispatcher waited for the locked shop"
    thread.join()
    assert counts == [{"sync": 4, "reconcile": 0}]
    assert (SYNC_TASK, held.pk) not in queued()
    assert dispatch_due_shops() == {"sync": 1, "reconcile": 0}
    assert queued().count((SYNC_TASK, held.pk)) == 1


def test_the_queue_and_the_stamps_commit_together(shops, monkeypatch):
    """A dispatcher that fails half way through a batch leaves no shop stamped and unqueued."""
    from django_q import tasks

    real, calls = tasks.async_task, []

    def failing(func, *args, **kwargs):
        calls.append(args)
        if len(calls) == 3:
            raise RuntimeError("the broker is gone")
        return real(func, *args, **kwargs)

    monkeypatch.setattr(tasks, "async_task", failing)
    monkeypatch.setattr(schedules, "SYNC_SHOPS_PER_TASK", 1)
    before = dict(Shop.objects.values_list("pk", "next_sync_at"))
    with pytest.raises(RuntimeError):
        dispatch_due_shops()
    assert not OrmQ.objects.exists()
    assert dict(Shop.objects.values_list("pk", "next_sync_at")) == before


def test_a_full_queue_holds_due_shops_back_most_overdue_first(shops, monkeypatch):
    """A cluster behind its work: shops are not queued again on top of the backlog; those
    left due are queued first, oldest due first, once there is room."""
    monkeypatch.setattr(schedules, "DISPATCH_QUEUE_LIMIT", 2)
    now = timezone.now()
    for minutes, shop in enumerate(shops):
        Shop.objects.filter(pk=shop.pk).update(next_sync_at=now - timedelta(minutes=10 - minutes))
    assert dispatch_due_shops(now) == {"sync": 2, "reconcile": 0}
    assert queued() == [(SYNC_TASK, shops[0].pk), (SYNC_TASK, shops[1].pk)]
    assert dispatch_due_shops(now) == {"sync": 0, "reconcile": 0}  # still full
    OrmQ.objects.all().delete()  # the workers took them
    assert dispatch_due_shops(now) == {"sync": 2, "reconcile": 0}
    assert queued() == [(SYNC_TASK, shops[2].pk), (SYNC_TASK, shops[3].pk)]


def test_due_shops_go_in_batches_whose_successes_are_not_saved(shops, monkeypatch):
    monkeypatch.setattr(schedules, "SYNC_SHOPS_PER_TASK", 2)
    assert dispatch_due_shops()["sync"] == 5
    packages = [package.task for package in OrmQ.objects.all()]
    assert sorted(len(task["args"][0]) for task in packages) == [1, 2, 2]
    assert {task["func"] for task in packages} == {SYNC_TASK}
    assert all(task["save"] is False for task in packages)
    assert queued() == sorted((SYNC_TASK, shop.pk) for shop in shops)


def test_a_batch_goes_on_past_a_failing_shop_and_gives_back_what_it_had_no_time_for(
    shops, monkeypatch
):
    ran: list[int] = []

    def sync_streams(shop_id: int, stop_at: float, **options: object) -> list[str]:
        ran.append(shop_id)
        if shop_id == shops[0].pk:
            raise RuntimeError("this shop's run broke")
        return []

    monkeypatch.setattr(trade_tasks, "sync_streams", sync_streams)
    ids = [shop.pk for shop in shops]
    assert trade_tasks.sync_shops_task(ids[:3]) == {"synced": 2, "failed": 1, "given back": 0}
    assert ran == ids[:3]

    later = timezone.now() + timedelta(hours=1)
    Shop.objects.filter(pk__in=ids).update(next_sync_at=later)
    monkeypatch.setattr(settings, "SYNC_RUN_TIME_LIMIT", -1)  # out of time after the first
    ran.clear()
    assert trade_tasks.sync_shops_task(ids[1:]) == {"synced": 1, "failed": 0, "given back": 3}
    assert ran == ids[1:2]
    due = dict(Shop.objects.values_list("pk", "next_sync_at"))
    assert due[ids[1]] == later and all(due[pk] <= timezone.now() for pk in ids[2:])


def test_next_due_keeps_the_phase_and_skips_missed_slots():
    due = timezone.now()
    assert next_due(due, due + timedelta(seconds=40), 5) == due + timedelta(minutes=5)
    assert next_due(due, due - timedelta(seconds=60), 5) == due + timedelta(minutes=5)  # ahead
    # the dispatcher was down 23 minutes: one run now, then back on the shop's own slots
    assert next_due(due, due + timedelta(minutes=23), 5) == due + timedelta(minutes=25)


def migrated(targets: list[tuple[str, str | None]]) -> MigrationExecutor:
    """The database migrated to ``targets``; its executor, to read the state from."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection)


def migrated_back(target: tuple[str, str]) -> MigrationExecutor:
    """The database migrated back to ``target``, the migrations after it unapplied one at a
    time, the latest first. Django renders the project's state again for every applied
    migration of its plan between the first and the last it unapplies: at once, that was
    every migration of the other apps after ``target``, a minute and a half on two cores."""
    executor = MigrationExecutor(connection)
    for migration, _ in executor.migration_plan([target]):  # the latest first
        executor = migrated([in_app_parent(executor, (migration.app_label, migration.name))])
    return executor


def in_app_parent(executor: MigrationExecutor, key: tuple[str, str]) -> tuple[str, str | None]:
    """The migration before ``key`` in its own app (``None``: the app's start)."""
    parents = [p.key for p in executor.loader.graph.node_map[key].parents if p.key[0] == key[0]]
    return (key[0], max(parents)[1] if parents else None)


def test_the_migration_turns_per_shop_schedules_into_due_times(tenant_a, top_app):
    """On a database of the previous schema: each shop takes its own schedules' next runs,
    an active shop without one is due now, a paused one has none; the per-shop schedules
    are gone and the dispatcher's schedule is there. Backwards, the schedules come back."""
    old, new = [("shops", "0015_merged_labels")], [("shops", "0016_dispatch_due_times")]
    executor = migrated_back(old[0])
    queue = [n for n in executor.loader.graph.leaf_nodes() if n[0] == "django_q"]
    apps = executor.loader.project_state(old + queue).apps
    OldShop, OldSchedule = apps.get_model("shops", "Shop"), apps.get_model("django_q", "Schedule")
    soon, tonight = timezone.now() + timedelta(minutes=3), timezone.now() + timedelta(hours=7)

    def old_shop(n: int, status: str = "active"):
        return OldShop.objects.create(
            tenant_id=tenant_a.pk,
            app_id=top_app.pk,
            seller_nick=f"o{n}",
            seller_id=n,
            status=status,
        )

    kept, bare, paused = old_shop(1), old_shop(2), old_shop(3, "paused")
    OldSchedule.objects.create(name=f"shop-{kept.pk}-sync", func=SYNC_TASK, next_run=soon)
    OldSchedule.objects.create(
        name=f"shop-{kept.pk}-reconcile", func=RECONCILE_TASK, next_run=tonight
    )
    OldSchedule.objects.create(name="ordersync-heartbeat-like", func="x.y", next_run=soon)

    migrated(new)

    kept_, bare_, paused_ = (Shop.objects.get(pk=s.pk) for s in (kept, bare, paused))
    assert (kept_.next_sync_at, kept_.next_reconcile_at) == (soon, tonight)
    assert bare_.next_sync_at <= timezone.now() and bare_.next_reconcile_at > timezone.now()
    assert (paused_.next_sync_at, paused_.next_reconcile_at) == (None, None)
    names = set(Schedule.objects.values_list("name", flat=True))
    assert not {n for n in names if n.startswith("shop-")}
    assert {"dispatch-shops", "ordersync-heartbeat-like"} <= names

    migrated(old)
    back = dict(Schedule.objects.filter(name__startswith="shop-").values_list("name", "next_run"))
    assert back[f"shop-{kept.pk}-sync"] == soon and f"shop-{bare.pk}-sync" in back
    assert "dispatch-shops" not in back and f"shop-{paused.pk}-sync" not in back
    migrated(executor.loader.graph.leaf_nodes())
