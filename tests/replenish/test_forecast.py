"""The forecast: weekday shape, promotion days and the backtest against the baseline."""

from __future__ import annotations

from datetime import date, timedelta

from django.core.management import call_command

from tools.bench.forecast import backtest, sandbox_history
from trades.replenish.forecast import baseline, forecast

MONDAY = date(2026, 11, 30)


def test_a_weekly_shape_and_a_promotion_day_are_forecast():
    weeks = [10, 10, 10, 10, 10, 20, 20] * 8  # 8 weeks ending on a Sunday
    last = MONDAY - timedelta(days=1)
    promo = {MONDAY + timedelta(days=2)}
    result = forecast(weeks, last, 7, promo)
    assert result.daily[0] < result.daily[5]  # Monday below Saturday
    assert result.daily[2] == result.daily[1]  # no promotion seen yet: no lift to apply
    assert abs(sum(result.daily) - sum(weeks[-7:])) < 10
    assert baseline(weeks, 7) == [sum(weeks[-7:]) / 7] * 7


def test_ours_beats_the_seven_day_average_on_the_sandbox_history():
    series, last, promo = sandbox_history(seed=7, trades=8000, days=90)
    result = backtest(series, last, promo, origins=14, horizon=7)
    assert result.units > 10000
    assert result.ours < result.base


def test_the_command_prints_both_figures(capsys):
    call_command("backtest_forecast", "--trades", "3000", "--days", "60", "--origins", "7")
    out = capsys.readouterr().out
    assert "WAPE ours:" in out and "WAPE baseline:" in out
