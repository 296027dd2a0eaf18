"""The platform's trade and refund statuses as people read them, beside the codes.

The codes are what the platform sends and what the API and filters take; the names are the
ones the seller's own console shows (in Chinese: 等待买家付款, 卖家已发货 …), kept in the
translation catalogue. Reference: docs/platform.md §5.
"""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

TRADE_STATUS_NAMES = {
    "TRADE_NO_CREATE_PAY": _("no Alipay trade created"),
    "WAIT_BUYER_PAY": _("waiting for the buyer to pay"),
    "PAY_PENDING": _("payment being confirmed"),
    "WAIT_PRE_AUTH_CONFIRM": _("zero-price contract pending"),
    "WAIT_SELLER_SEND_GOODS": _("paid, waiting for the seller to ship"),
    "SELLER_CONSIGNED_PART": _("partly shipped"),
    "WAIT_BUYER_CONFIRM_GOODS": _("shipped, waiting for the buyer to confirm receipt"),
    "TRADE_BUYER_SIGNED": _("signed for by the buyer (cash on delivery)"),
    "TRADE_FINISHED": _("trade finished"),
    "TRADE_CLOSED": _("trade closed (refunded after payment)"),
    "TRADE_CLOSED_BY_TAOBAO": _("trade closed before payment"),
    "PAID_FORBID_CONSIGN": _("paid, shipping not allowed yet"),
}
REFUND_STATUS_NAMES = {
    "WAIT_SELLER_AGREE": _("buyer asked for a refund, waiting for the seller to agree"),
    "WAIT_BUYER_RETURN_GOODS": _("seller agreed, waiting for the buyer to return the goods"),
    "WAIT_SELLER_CONFIRM_GOODS": _("buyer returned the goods, waiting for the seller to confirm"),
    "SELLER_REFUSE_BUYER": _("seller refused the refund"),
    "CLOSED": _("refund closed"),
    "SUCCESS": _("refund succeeded"),
    "WAIT_BUYER_CONFIRM_EXCHANGE_SELLER_SEND_GOODS": _(
        "exchange shipped, waiting for the buyer to confirm"
    ),
    "EXCHANGE_TRANSFORM_TO_REFUND": _("exchange turned into a refund"),
    "WAIT_SELLER_CONSIGN_GOODS": _("exchange: waiting for the seller to ship"),
}
STEP_STATUS_NAMES = {
    "FRONT_NOPAID_FINAL_NOPAID": _("deposit not paid"),
    "FRONT_PAID_FINAL_NOPAID": _("deposit paid, final payment not yet"),
    "FRONT_PAID_FINAL_PAID": _("deposit and final payment paid"),
}
NAMES = {**TRADE_STATUS_NAMES, **REFUND_STATUS_NAMES, **STEP_STATUS_NAMES}


def status_name(code: str) -> str:
    """The platform's name of a status code; the code itself when it is not one we know."""
    return str(NAMES.get(code, code))


def status_shown(code: str) -> SafeString | str:
    """The name with its code beside it: ``等待买家付款 WAIT_BUYER_PAY``; empty for none."""
    if not code:
        return ""
    if code not in NAMES:
        return format_html("<code>{}</code>", code)
    return format_html('{} <code class="status-code">{}</code>', status_name(code), code)


def status_choices(codes: list[str]) -> list[tuple[str, str]]:
    """Filter choices: ``(code, "name (CODE)")``."""
    return [(code, f"{status_name(code)} ({code})") for code in codes]
