"""Visibility lag drawn per change (a heavy tail) and APIs an app has no permission for."""

from __future__ import annotations

import random

from ordersync.sandbox.clock import fmt
from ordersync.sandbox.faults import Faults
from tests.support.sandbox_http import APP_KEY, APP_SECRET, control, error_of, trades_of

from .test_faults import EVERY_TYPE, increment

INCREMENTV = "taobao.trades.sold.incrementv.get"


def test_lag_is_drawn_per_change_with_a_capped_heavy_tail():
    faults = Faults(lag_seconds=5, lag_tail_rate=0.3, lag_tail_seconds=20, lag_max_seconds=600)
    rng = random.Random(1)
    lags = [faults.draw_lag(rng) for _ in range(5000)]
    assert min(lags) == 5 and max(lags) == 600  # the constant part; the cap
    assert 0.6 < lags.count(5) / len(lags) < 0.8  # most changes get the constant part only
    late = [lag for lag in lags if lag > 5 + 180]  # later than lag + overlap of a small setup
    assert 0.005 < len(late) / len(lags) < 0.05
    # seeded: the same draws again
    assert [faults.draw_lag(random.Random(1)) for _ in range(3)] == [
        faults.draw_lag(random.Random(1)) for _ in range(3)
    ]


def test_lag_seconds_alone_is_still_one_constant():
    faults = Faults(lag_seconds=120)
    assert {faults.draw_lag(random.Random(n)) for n in range(50)} == {120}


def test_each_change_becomes_visible_after_its_own_lag(sb, top):
    control(
        sb,
        "POST",
        "faults",
        {"lag_seconds": 1, "lag_tail_rate": 0.5, "lag_tail_seconds": 30, "lag_max_seconds": 900},
    )
    control(sb, "POST", "market", {"nick": "shop-a", "burst": 60})
    seller = sb.state.sellers["shop-a"]
    fresh = sorted(seller.trades.values(), key=lambda t: t.tid)[-60:]
    lags = [t.current.visible_at - t.current.modified for t in fresh]
    assert min(lags) == 1 and max(lags) > 31 and max(lags) <= 900
    # the lists show each new trade once its own lag is over, not before
    now = sb.state.now()
    control(sb, "POST", "faults", {"skew_seconds": 40})
    later = sb.state.now()
    listed = {t["tid"] for t in increment(top, now - 60, later)}
    for trade, lag in zip(fresh, lags, strict=True):
        assert (trade.tid in listed) == (trade.current.modified + lag <= later)


def test_an_app_without_the_permission_package_is_refused_incrementv(sb, top):
    control(
        sb,
        "POST",
        "apps",
        {"app_key": APP_KEY, "app_secret": APP_SECRET, "denied_methods": [INCREMENTV]},
    )
    now = sb.state.now()
    error = error_of(
        top.call(
            INCREMENTV,
            fields="tid",
            start_create=fmt(now - 60),
            end_create=fmt(now),
            type=EVERY_TYPE,
        )
    )
    assert (error["code"], error["msg"], error["sub_code"]) == (
        11,
        "Insufficient ISV Permissions",
        "isv.permission-api-package-limit",
    )
    assert increment(top, now - 600, now) is not None  # other APIs still answer
    # allowed again once the app is posted without it
    control(sb, "POST", "apps", {"app_key": APP_KEY, "app_secret": APP_SECRET})
    inner = top.ok(INCREMENTV, fields="tid", start_create=fmt(now - 60), end_create=fmt(now))
    assert isinstance(trades_of(inner), list)


def test_denied_methods_must_name_known_apis(sb):
    import requests

    response = requests.post(
        f"{sb.url}/_sandbox/apps",
        json={"app_key": "x", "app_secret": "y", "denied_methods": ["taobao.no.such"]},
    )
    assert response.status_code == 400 and "taobao.no.such" in response.json()["error"]


def test_async_modified_stamped_early_is_listed_only_later_in_its_own_window(sb, top):
    """``visible_early_seconds``: incrementv.get stamps async_modified that much before the
    change is listed (never before its ``modified``); a window on the stamp read before the
    listing misses it, one read after lists it, sorted by the stamp."""
    control(sb, "POST", "faults", {"lag_seconds": 20, "visible_early_seconds": 20})
    control(sb, "POST", "market", {"nick": "shop-a", "burst": 3})
    control(sb, "POST", "faults", {"lag_seconds": 0, "visible_early_seconds": 0})
    seller = sb.state.sellers["shop-a"]
    fresh = sorted(seller.trades.values(), key=lambda t: t.tid)[-3:]
    stamps = {t.current.stamped_at for t in fresh}
    assert stamps == {t.current.modified for t in fresh}  # stamped when made, listed 20 s on

    def listed(end: float) -> list[dict]:
        inner = top.ok(
            INCREMENTV,
            fields="tid,async_modified",
            start_create=fmt(min(stamps) - 5),
            end_create=fmt(end),
            type=EVERY_TYPE,
        )
        return trades_of(inner)

    assert not {t["tid"] for t in listed(max(stamps) + 5)} & {t.tid for t in fresh}
    control(sb, "POST", "faults", {"skew_seconds": 25})
    rows = [t for t in listed(max(stamps) + 5) if t["tid"] in {f.tid for f in fresh}]
    assert len(rows) == 3
    assert {t["async_modified"] for t in rows} == {fmt(s) for s in stamps}
    assert [t["async_modified"] for t in rows] == sorted(
        (t["async_modified"] for t in rows), reverse=True
    )
