"""Example bodies of the partner API, as the schema shows them. The schema test validates
each against the schema of the operation it illustrates, field by field."""

from __future__ import annotations

TID = 3900000000000016884
REFUND_ID = 2900000000000016885
SYNCED = "2026-11-11T00:00:07.512+08:00"


def page(*results: dict, next_cursor: str | None = None) -> dict:
    """A list's answer: one page and where the next one starts."""
    return {"results": list(results), "next_cursor": next_cursor, "has_more": bool(next_cursor)}


LINE = {
    "oid": TID + 1,
    "oid_str": str(TID + 1),
    "status": "WAIT_SELLER_SEND_GOODS",
    "refund_status": "NO_REFUND",
    "num_iid": 712345678901,
    "sku_id": "5012345678",
    "title": "Down jacket, navy, L",
    "price": "399.00",
    "num": 1,
    "payment": "359.00",
    "divide_order_fee": "359.00",
}
TRADE = {
    "tid": TID,
    "tid_str": str(TID),
    "shop": 7,
    "status": "WAIT_SELLER_SEND_GOODS",
    "type": "fixed",
    "created": "2026-11-11T00:00:01+08:00",
    "modified": "2026-11-11T00:00:05+08:00",
    "pay_time": "2026-11-11T00:00:05+08:00",
    "consign_time": None,
    "end_time": None,
    "payment": "369.00",
    "total_fee": "399.00",
    "post_fee": "10.00",
    "buyer_open_uid": "AAHm5d-EAAeGwJedwSHpg8bT",
    "buyer_nick": "t**1",
    "receiver_state": "浙江省",
    "receiver_city": "杭州市",
    "receiver_district": "余杭区",
    "step_trade_status": "",
    "step_paid_fee": None,
    "first_synced_at": SYNCED,
    "last_synced_at": SYNCED,
    "lines": [LINE],
}
REFUND = {
    "refund_id": REFUND_ID,
    "refund_id_str": str(REFUND_ID),
    "shop": 7,
    "tid": TID,
    "tid_str": str(TID),
    "oid": TID + 1,
    "oid_str": str(TID + 1),
    "status": "WAIT_SELLER_AGREE",
    "refund_fee": "359.00",
    "created": "2026-11-12T10:02:00+08:00",
    "modified": "2026-11-12T10:02:00+08:00",
    "first_synced_at": "2026-11-12T10:02:41.118+08:00",
    "last_synced_at": "2026-11-12T10:02:41.118+08:00",
}
TRADE_DETAIL = {**TRADE, "refunds": [REFUND], "payload": {"tid": TID, "status": TRADE["status"]}}
REFUND_DETAIL = {**REFUND, "payload": {"refund_id": REFUND_ID, "status": REFUND["status"]}}
AUDIT_ENTRY = {
    "id": 912,
    "at": "2026-11-11T10:04:12.120+08:00",
    "actor_kind": "api_key",
    "actor": "ERP production (3f9a1c2b7d01…)",
    "actor_user": None,
    "actor_key_id": 14,
    "ip": "203.0.113.7",
    "user_agent": "erp-sync/4.2",
    "action": "webhook_endpoint.changed",
    "object_type": "trades.webhookendpoint",
    "object_id": "3",
    "object_repr": "https://erp.example.com/hooks/orders",
    "changes": {"event_types": [["trade.created"], ["trade.created", "refund.created"]]},
    "details": {},
}
SYNC_RUN = {
    "id": 5120,
    "shop": 7,
    "stream": "trades",
    "kind": "incremental",
    "outcome": "succeeded",
    "window_start": "2026-11-11T09:55:00+08:00",
    "window_end": "2026-11-11T10:00:00+08:00",
    "started_at": "2026-11-11T10:02:00.031+08:00",
    "finished_at": "2026-11-11T10:02:01.377+08:00",
    "api_calls": 3,
    "pages": 2,
    "trades_seen": 148,
    "trades_written": 131,
    "error_class": "",
    "error_message": "",
}
SHOP = {
    "id": 7,
    "platform": "tmall",
    "seller_nick": "acme-flagship",
    "seller_id": 2200001234567,
    "status": "active",
    "status_reason": "",
    "degraded": False,
    "interval_mode": "auto",
    "interval_minutes": None,
    "created": "2026-08-01T09:30:00+08:00",
    "checkpoints": [
        {
            "stream": "trades",
            "cursor": "2026-11-11T09:58:00+08:00",
            "lag_seconds": 241,
            "last_success_at": "2026-11-11T10:02:01.377+08:00",
            "consecutive_failures": 0,
            "last_error": "",
            "next_run_at": "2026-11-11T10:03:00+08:00",
        }
    ],
    "last_run": SYNC_RUN,
    "failed_runs_24h": 0,
}
RESERVATION = {
    "id": "deposit_paid:7:712345678901:5012345678:JKT-NAVY-L",
    "shop": 7,
    "stage": "deposit_paid",
    "num_iid": 712345678901,
    "num_iid_str": "712345678901",
    "sku_id": "5012345678",
    "outer_sku_id": "JKT-NAVY-L",
    "units": 412,
    "trades": 388,
}
REPORT = {
    "id": 31,
    "shop": 7,
    "day": "2026-11-11",
    "platform_count": 25503,
    "local_count": 25503,
    "missing_found": 1,
    "stale_fixed": 2,
    "refunds_platform_count": 812,
    "refunds_local_count": 812,
    "refunds_missing_found": 0,
    "refunds_stale_fixed": 0,
    "unresolved": 0,
    "api_calls": 41,
    "duration_seconds": 12.8,
    "details": {"missing": [TID]},
    "created_at": "2026-11-12T03:10:12.800+08:00",
}
CHANGE = {
    "id": 991,
    "entity": "trade",
    "shop": 7,
    "key": TID,
    "key_str": str(TID),
    "object_id": 88123,
    "status": "WAIT_SELLER_SEND_GOODS",
    "previous_status": "WAIT_BUYER_PAY",
    "modified": "2026-11-11T00:00:05+08:00",
    "created_at": SYNCED,
}
JOB = {
    "id": 42,
    "url": "/api/v1/jobs/42/",
    "shop": 7,
    "kind": "sync",
    "state": "queued",
    "task_id": "3c7f0d6a5e8b4f1a9d2c6b0e7a4f8c21",
    "requested_at": "2026-11-11T10:05:00.120+08:00",
    "started_at": None,
    "finished_at": None,
    "error": "",
}
JOB_QUEUED = {
    "shop": 7,
    "kind": "sync",
    "task_id": JOB["task_id"],
    "job": 42,
    "url": "/api/v1/jobs/42/",
}
API_KEY = {
    "id": 3,
    "name": "WMS",
    "prefix": "ecd97b41e6f9",
    "scope": "read",
    "created_at": "2026-11-01T09:00:00+08:00",
    "expires_at": None,
    "revoked_at": None,
    "last_used_at": "2026-11-11T10:04:59.870+08:00",
    "feed": {"read_at": "2026-11-11T10:04:59.870+08:00", "lag_seconds": 0.0, "caught_up": True},
}
TOKEN = "osk_ecd97b41e6f9_JeXWY-CZnx2NQ6JeAyP-YsMvMqZxDqj_1edpi9W9GcY"
ENDPOINT = {
    "id": 3,
    "url": "https://erp.example.com/hooks/ordersync",
    "description": "ERP order intake",
    "event_types": ["trade.created", "trade.status_changed", "refund.created"],
    "is_active": True,
    "disabled_reason": "",
    "disabled_at": None,
    "failing_since": None,
    "secrets_expire_at": [None],
    "health": {
        "backlog": 2,
        "oldest_pending_seconds": 41.5,
        "attempts_24h": 1240,
        "success_rate_24h": 0.9992,
    },
    "created_at": "2026-11-01T09:05:00+08:00",
    "updated_at": "2026-11-01T09:05:00+08:00",
}
SECRET = "whsec_0iuIhWZ-Uv9eWq4mLpIZjoD_eAC4XQxaugdZ-EHr5gg"
DELIVERY = {
    "id": 5001,
    "endpoint": 3,
    "event_id": "evt_3f1c9a4e0b6d4c1fa2b7e8d9c0a1b2c3",
    "event_type": "trade.status_changed",
    "state": "succeeded",
    "attempts": 1,
    "next_attempt_at": None,
    "last_attempt_at": "2026-11-11T00:00:02.310+08:00",
    "last_status_code": 204,
    "last_error": "",
    "delivered_at": "2026-11-11T00:00:02.352+08:00",
    "created_at": "2026-11-11T00:00:02.104+08:00",
}
DELIVERY_DETAIL = {
    **DELIVERY,
    "data": {
        "tid": TID,
        "tid_str": str(TID),
        "shop": 7,
        "status": "WAIT_SELLER_SEND_GOODS",
        "previous_status": "WAIT_BUYER_PAY",
        "modified": "2026-11-11T00:00:01+08:00",
        "change_id": 991,
    },
    "log": [
        {
            "number": 1,
            "started_at": "2026-11-11T00:00:02.310+08:00",
            "duration_ms": 42,
            "outcome": "success",
            "status_code": 204,
            "response_body": "",
            "error": "",
        }
    ],
}
TEST_DELIVERY = {
    **DELIVERY,
    "id": 5002,
    "event_id": "evt_799d7ef31f7e408ba3aa9101076003e2",
    "event_type": "webhook.test",
    "state": "pending",
    "attempts": 0,
    "next_attempt_at": "2026-11-11T10:06:00.001+08:00",
    "last_attempt_at": None,
    "last_status_code": None,
    "delivered_at": None,
    "created_at": "2026-11-11T10:06:00.001+08:00",
}

# errors: one shape for all (trades/api/errors.py)
INVALID = {
    "status": 400,
    "code": "invalid",
    "detail": "The request has invalid fields or query parameters.",
    "errors": {"status": ['"PAID" is not one of: WAIT_BUYER_PAY, WAIT_SELLER_SEND_GOODS, …']},
}
UNAUTHENTICATED = {
    "status": 401,
    "code": "authentication_failed",
    "detail": "Unknown, expired or revoked API key.",
}
FORBIDDEN = {
    "status": 403,
    "code": "permission_denied",
    "detail": "This API key has the read scope; this request needs read_write.",
}
NOT_FOUND = {"status": 404, "code": "not_found", "detail": "Not found."}
THROTTLED = {
    "status": 429,
    "code": "throttled",
    "detail": "Request was throttled. Expected available in 12 seconds.",
}
ERRORS = {400: INVALID, 401: UNAUTHENTICATED, 403: FORBIDDEN, 404: NOT_FOUND, 429: THROTTLED}
