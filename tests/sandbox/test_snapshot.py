"""Snapshots: a sandbox started on a snapshot file comes back with the same world."""

from __future__ import annotations

from ordersync.sandbox.server import start_sandbox
from tests.support.sandbox_http import APP_KEY, APP_SECRET, Top, control, make_seller, oracle


def test_world_survives_a_restart(tmp_path):
    path = str(tmp_path / "world.pickle")
    with start_sandbox(port=0, seed=3, snapshot=path) as first:
        control(first, "POST", "apps", {"app_key": APP_KEY, "app_secret": APP_SECRET})
        session = make_seller(first, "kept", history_trades=150)["session"]
        control(first, "POST", "faults", {"lag_seconds": 30})
        before = oracle(first, "kept")
    with start_sandbox(port=0, seed=99, snapshot=path) as second:
        assert oracle(second, "kept") == before
        assert control(second, "GET", "faults")["lag_seconds"] == 30
        Top(second, session=session).ok("taobao.trades.sold.get", fields="tid")
        control(second, "POST", "market", {"nick": "kept", "burst": 5})
        assert control(second, "POST", "snapshot", {})["saved"] == path
    with start_sandbox(port=0, snapshot=path) as third:
        assert len(oracle(third, "kept")) == len(before) + 5
