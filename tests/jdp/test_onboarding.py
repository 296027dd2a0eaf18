"""A new shop enrolled in JDP with history is filled by the push: the backfill the onboarding
queued finds it done and makes no ``trades.sold.get`` call; enrolled without history, the
backfill runs as for any shop."""

from __future__ import annotations

import pytest

from shops import actions
from shops.models import Checkpoint
from tests.support.clock import advance
from tests.support.oracle import assert_matches_oracle
from trades.jdp.enrol import enrol_shop
from trades.jdp.models import JdpRds
from trades.sync.incremental import sync_shop
from trades.tasks import backfill_shop_task, resume_unfinished

from .conftest import consume, wait_pushed

SOLD_GET = "taobao.trades.sold.get"


@pytest.fixture
def onboard(gateway, sandbox_app, tenant_a, monkeypatch, django_capture_on_commit_callbacks):
    """Onboard a sandbox seller as authorization does; return the shop and the jobs the
    onboarding queued (recorded, not run: the test runs them when it chooses)."""
    queued: list[tuple[int, str]] = []
    monkeypatch.setattr(actions, "queue_job", lambda shop, kind, *a: queued.append((shop.pk, kind)))

    def make(nick: str, history_trades: int):
        seller = gateway.control(
            "sellers",
            {"app_key": sandbox_app.app_key, "nick": nick, "history_trades": history_trades},
        )
        with django_capture_on_commit_callbacks(execute=True):
            shop, created = actions.onboard_shop(
                tenant=tenant_a,
                app=sandbox_app,
                seller_nick=nick,
                seller_id=seller["user_id"],
                session_key=seller["session"],
            )
        assert created
        return shop, queued

    return make


def enrol(gateway, rds_url, shop, history_days: int) -> None:
    gateway.control("jdp/rds", {"name": "rds-1", "url": rds_url})
    rds, _ = JdpRds.objects.get_or_create(name="rds-1", defaults={"url": rds_url})
    enrol_shop(shop, rds, history_days)


def sold_get_calls(gateway) -> int:
    return sum(gateway.control("stats")["calls"].get(SOLD_GET, {}).values())


def test_enrolled_with_history_no_backfill_call(gateway, onboard, rds_url):
    shop, queued = onboard("newhist", history_trades=80)
    assert queued == [(shop.pk, "backfill")]  # the onboarding queued its backfill …
    enrol(gateway, rds_url, shop, history_days=30)
    assert backfill_shop_task(shop.pk) == "filled by the JDP push"  # … which finds it done
    assert resume_unfinished(shop) == []
    wait_pushed(gateway)
    consume(shop)
    assert_matches_oracle(gateway, shop)  # the history came with the push
    assert sold_get_calls(gateway) == 0


def test_enrolled_without_history_the_backfill_runs(gateway, onboard, rds_url):
    shop, _ = onboard("nohist", history_trades=80)
    enrol(gateway, rds_url, shop, history_days=0)
    assert backfill_shop_task(shop.pk) == "succeeded"
    assert sold_get_calls(gateway) > 0
    assert_matches_oracle(gateway, shop)


def test_history_ends_a_backfill_left_unfinished(gateway, onboard, rds_url):
    shop, _ = onboard("halfway", history_trades=10)
    Checkpoint.objects.filter(shop=shop, stream=Checkpoint.Stream.BACKFILL).update(
        progress={"from": "2026-01-01 00:00:00", "until": "2026-01-31 00:00:00"}
    )
    enrol(gateway, rds_url, shop, history_days=30)
    assert resume_unfinished(shop) == []  # not queued again: the push brings the history
    assert backfill_shop_task(shop.pk) == "filled by the JDP push"
    assert sold_get_calls(gateway) == 0


def test_polling_checks_the_push_from_the_enrolment_on(gateway, onboard, rds_url, settings):
    """The history push stands for the backfill, so the polling cursors start where a
    backfill's would: at the enrolment, less the overlap. What changes after it is polled,
    however long before the first safety pass, and not only by the push."""
    settings.SYNC_LAG_SECONDS = 1
    settings.SYNC_OVERLAP_SECONDS = 2
    shop, _ = onboard("polled", history_trades=10)
    enrol(gateway, rds_url, shop, history_days=30)
    cursors = Checkpoint.objects.filter(shop=shop, stream__in=["trades", "refunds"])
    assert cursors.count() == 2 and all(c.cursor is not None for c in cursors)

    gateway.control("market", {"nick": "polled", "burst": 5})
    advance(gateway, 60)  # the first safety pass comes long after
    assert sync_shop(shop, "trades").trades_written >= 5  # polled, the push not read
