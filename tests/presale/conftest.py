from __future__ import annotations

from tests.webhooks.conftest import endpoint, issued, queued, receiver, webhook_settings  # noqa: F401


def presale(
    tid=1, stage="FRONT_NOPAID_FINAL_NOPAID", status="WAIT_BUYER_PAY", minute=0, sku="101", num=2
) -> dict:
    return {
        "tid": tid,
        "status": status,
        "type": "step",
        "step_trade_status": stage,
        "created": "2026-11-11 00:00:00",
        "modified": f"2026-11-11 00:{minute:02d}:00",
        "orders": [
            {"oid": tid, "status": status, "sku_id": sku, "outer_sku_id": f"OUT-{sku}", "num": num}
        ],
    }
