"""Events that are not trade or refund changes: a shop that needs re-authorization, and a
reconcile that found trades the sync had missed. Both go through the outbox like the rest."""

from __future__ import annotations

from typing import Any

from shops.models import Shop
from shops.signals import shop_needs_reauth
from trades.models import ReconcileReport
from trades.webhooks.models import EventType
from trades.webhooks.outbox import emit

MISSING_TIDS_SHOWN = 100


def _on_needs_reauth(sender: object, shop: Shop, reason: str, **kwargs: Any) -> None:
    emit(
        shop.tenant_id,
        EventType.SHOP_NEEDS_REAUTH,
        {"shop": shop.pk, "seller_nick": shop.seller_nick, "reason": reason},
        shop_id=shop.pk,
    )


def connect() -> None:
    shop_needs_reauth.connect(_on_needs_reauth, dispatch_uid="webhooks-shop-needs-reauth")


def emit_found_missing(report: ReconcileReport) -> list[int]:
    """``reconcile.found_missing`` for a saved report; call in the transaction that saved it."""
    return emit(
        report.tenant_id,
        EventType.RECONCILE_FOUND_MISSING,
        {
            "shop": report.shop_id,
            "report": report.pk,
            "day": str(report.day),
            "missing_found": report.missing_found,
            "tids": report.details.get("missing", [])[:MISSING_TIDS_SHOWN],
            "refunds_missing_found": report.refunds_missing_found,
            "refund_ids": report.details.get("refunds", {}).get("missing", [])[:MISSING_TIDS_SHOWN],
        },
        shop_id=report.shop_id,
    )
