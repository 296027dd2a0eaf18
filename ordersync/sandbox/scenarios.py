"""Ready-made worlds for ``taobao_sandbox --scenario``: demo, double11, chaos."""

from __future__ import annotations

from ordersync.sandbox.world import World

APP_KEY = "10000001"
APP_SECRET = "sandbox-secret"

SCENARIOS = {
    "demo": {
        "calls_per_minute": 600,
        "sellers": [("demo-shop-1", 400, 30), ("demo-shop-2", 150, 30)],
        "market": {"trades_per_minute": 6, "changes_per_minute": 12, "refunds_per_minute": 2},
        "faults": {},
    },
    "double11": {
        "calls_per_minute": 1200,
        "sellers": [("d11-flagship", 2000, 7), ("d11-small", 200, 7)],
        "market": {"trades_per_minute": 2000, "changes_per_minute": 3000, "refunds_per_minute": 60},
        "faults": {"peak_mode": True, "lag_seconds": 60, "isp_rate": 0.02, "slow_rate": 0.05},
    },
    "chaos": {
        "calls_per_minute": 300,
        "sellers": [("chaos-shop", 600, 14)],
        "market": {"trades_per_minute": 30, "changes_per_minute": 60, "refunds_per_minute": 6},
        "faults": {
            "isp_rate": 0.05,
            "http_500_rate": 0.03,
            "malformed_rate": 0.02,
            "ban_rate": 0.02,
            "ban_seconds": 3,
            "rejection_rate": 0.02,
            "rejection_seconds": 180,
            "incomplete_rate": 0.02,
            "same_second_rate": 0.1,
            "same_second_delay_seconds": 5,
            "tie_shuffle": True,
            "slow_rate": 0.05,
            "slow_seconds": 2,
            "hang_rate": 0.01,
            "hang_seconds": 35,
            "lag_seconds": 120,
            "lag_tail_rate": 0.05,
            "lag_tail_seconds": 30,
            "lag_max_seconds": 600,
            "drift_rate": 0.3,
            "drift_trades": 2,
            "skew_seconds": 30,
            "tmc_drop_rate": 0.2,
            "tmc_duplicate_rate": 0.1,
            "tmc_reorder_rate": 0.2,
        },
    },
}


def apply(world: World, name: str) -> dict:
    """Build scenario ``name`` into ``world``; return what a client needs to connect."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose one of {sorted(SCENARIOS)}")
    spec = SCENARIOS[name]
    with world.lock:
        world.add_app(APP_KEY, APP_SECRET, spec["calls_per_minute"])
        sellers = []
        for nick, history, days in spec["sellers"]:
            seller, _ = world.add_seller(nick, history, days)
            session = world.issue_session(APP_KEY, nick)
            for rate, value in spec["market"].items():
                setattr(
                    seller.rates, rate, float(value) / (1 if nick == spec["sellers"][0][0] else 4)
                )
            sellers.append({"nick": nick, "user_id": seller.user_id, "session": session.key})
        world.set_faults(spec["faults"])
    return {"scenario": name, "app_key": APP_KEY, "app_secret": APP_SECRET, "sellers": sellers}
