"""The operator commands, run as an operator would (call_command) against the sandbox."""

from __future__ import annotations

import io
import re
import time

import pytest
from django.core.management import CommandError, call_command
from django_q.models import OrmQ

from shops.models import Checkpoint, Shop
from trades.models import ReconcileReport, Trade

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_add_shop_onboards_a_shop_with_its_checkpoints_schedules_and_backfill(gateway, sandbox_app):
    seller = gateway.control(
        "sellers", {"app_key": sandbox_app.app_key, "nick": "newcomer", "history_trades": 5}
    )
    args = ["--tenant", "Acme", "--app-key", sandbox_app.app_key, "--nick", "newcomer"]
    args += ["--seller-id", str(seller["user_id"]), "--session", seller["session"]]

    out, _ = run("add_shop", *args)

    shop = Shop.objects.get(seller_nick="newcomer")
    assert out.strip() == f"added shop {shop.pk} ({shop}) for tenant acme"
    assert shop.tenant.slug == "acme" and shop.session_key == seller["session"]
    assert set(Checkpoint.objects.filter(shop=shop).values_list("stream", flat=True)) == {
        "trades",
        "refunds",
        "backfill",
    }
    assert shop.next_sync_at is not None and shop.next_reconcile_at is not None
    assert [q.task["func"] for q in OrmQ.objects.all()] == ["trades.tasks.backfill_shop_task"]

    out, _ = run("add_shop", *args[:-1], "new-session", "--no-backfill")
    assert out.startswith(f"re-authorized shop {shop.pk}")
    shop.refresh_from_db()
    assert shop.session_key == "new-session" and OrmQ.objects.count() == 1


def test_add_shop_refuses_an_unknown_app(db):
    with pytest.raises(CommandError, match="no TOP app with key 'nope'"):
        run(
            "add_shop",
            "--tenant",
            "t",
            "--app-key",
            "nope",
            "--nick",
            "n",
            "--seller-id",
            "1",
            "--session",
            "s",
        )


def test_backfill_shop_shows_slices_and_trades_and_says_how_to_resume(make_shop, gateway, settings):
    shop = make_shop("history", history_trades=90, history_days=3)

    out, err = run("backfill_shop", "history", "--days", "4")

    lines = err.splitlines()
    trades = [line for line in lines if line.lstrip().startswith("trades [")]
    assert len(trades) >= 4  # one line per slice
    assert re.search(r"100\.0%  \d+ slices, 90 trades written$", trades[-1]), trades[-1]
    assert re.search(r" 1 slices, ", trades[0])
    assert any(line.lstrip().startswith("refunds [") for line in lines)
    assert out.startswith("backfill succeeded:") and "90 trades written" in out
    assert Trade.objects.filter(shop=shop).count() == 90

    settings.TOP_MAX_ATTEMPTS = 1
    make_shop("broken-history", history_trades=10, history_days=1)
    gateway.faults(isp_rate=1.0)
    with pytest.raises(CommandError, match=r"Transient: .*\(resume by running again\)"):
        run("backfill_shop", "broken-history", "--days", "2")


def test_reconcile_shop_prints_one_line_per_day(make_shop, gateway):
    shop = make_shop("audited", history_trades=40, history_days=1)
    run("backfill_shop", str(shop.pk), "--days", "2")

    out, _ = run("reconcile_shop", "audited")

    lines = out.splitlines()
    assert len(lines) == 2 and ReconcileReport.objects.filter(shop=shop).count() == 2
    for line, report in zip(
        lines, ReconcileReport.objects.filter(shop=shop).order_by("day"), strict=True
    ):
        assert line.startswith(
            f"{report.day}: platform {report.platform_count}, ours {report.local_count}, "
            "missing found 0, stale fixed 0, "
        )
    with pytest.raises(CommandError, match="is not a date"):
        run("reconcile_shop", "audited", "--day", "yesterday")
    with pytest.raises(CommandError, match="no shop 'nobody'"):
        run("reconcile_shop", "nobody")


def test_sync_status_lists_every_shop_with_its_state(make_shop, gateway):
    synced = make_shop("synced", history_trades=20, history_days=1)
    make_shop("fresh")
    run("backfill_shop", str(synced.pk), "--days", "2")
    run("sync_shop", str(synced.pk))
    Shop.objects.filter(seller_nick="fresh").update(degraded=True, degraded_reason="trades: …")

    out, _ = run("sync_status")

    header, *rows, legend = out.splitlines()
    assert legend == "Times are in Asia/Shanghai (TIME_ZONE)."
    assert header.split() == [
        "id",
        "shop",
        "status",
        "mode",
        "trades",
        "lag",
        "refunds",
        "lag",
        "fails",
        "backfill",
        "last",
        "run",
    ]
    by_nick = {row.split()[1]: row for row in rows}
    assert re.search(
        r"active\s+normal\s+\d+m\d\ds\s+\d+m\d\ds\s+0\s+done\s+incremental succeeded "
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00$",
        by_nick["synced"],
    ), by_nick["synced"]
    assert re.search(r"active\s+degraded\s+-\s+-\s+0\s+-\s+-$", by_nick["fresh"]), by_nick["fresh"]
    assert "degraded since —: trades: …" in out


@pytest.mark.parametrize("fault", ["rejection", "ban"])
def test_backfill_shop_waits_out_a_ban_or_a_rejection_and_goes_on(
    make_shop, gateway, settings, monkeypatch, fault
):
    settings.TOP_MAX_ATTEMPTS = 1  # the client gives up at once: the command must wait
    make_shop("throttled", history_trades=30, history_days=2)
    if fault == "rejection":  # the shop stays rejected for 2 s (the platform says 3 minutes)
        gateway.faults(rejection_rate=1.0, rejection_seconds=2)
    else:
        gateway.faults(ban_rate=1.0, ban_seconds=2)
    waited = []

    def sleep(seconds: float) -> None:
        if not waited:
            gateway.faults(rejection_rate=0.0, ban_rate=0.0)  # the platform lets us back in
        waited.append(seconds)
        if len(waited) <= 3:
            time.sleep(seconds)  # the sandbox's ban and rejection run on its real clock

    monkeypatch.setattr("trades.management.commands.backfill_shop.sleep", sleep)

    out, err = run("backfill_shop", "throttled", "--days", "3")

    assert out.startswith("backfill succeeded:") and "30 trades written" in out
    reason = "TradeServiceRejected" if fault == "rejection" else "RateLimited"
    countdown = [line for line in err.splitlines() if line.startswith(f"{reason}: ")]
    assert countdown and countdown[0].endswith(f"resuming in {len(waited)}s")
    if fault == "rejection":
        assert len(waited) >= 180  # "query again in 3 minutes"
    assert Trade.objects.filter(shop__seller_nick="throttled").count() == 30
