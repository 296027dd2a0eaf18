"""A naive sync scheme, kept only to show that the sandbox makes it lose orders.

Forward paging with ``has_next``, the local clock as "now", the next window starting one
second after the last one ended, and the checkpoint moved even when a call failed. It asks
for the same fields as ordersync, so both stores can be compared by content.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ordersync.taobao import api
from ordersync.taobao.errors import TopError
from ordersync.taobao.types import PLATFORM_TZ
from trades.sync.fields import REFUND_FIELDS, TRADE_FIELDS


def naive_sync(client, session: str, start: datetime, store: dict[int, dict]) -> datetime:
    """Read trades of ``[start, local now]`` forward into ``store``; return the next start."""
    return _naive_window(
        api.trades_sold_increment_get, TRADE_FIELDS, "tid", client, session, start, store
    )


def naive_sync_refunds(client, session: str, start: datetime, store: dict[int, dict]) -> datetime:
    """The same for refunds (``taobao.refunds.receive.get``), keyed by refund id."""
    return _naive_window(
        api.refunds_receive_get,
        REFUND_FIELDS,
        "refund_id",
        client,
        session,
        start,
        store,
    )


def _naive_window(read, fields, key, client, session, start, store) -> datetime:
    end = datetime.now(PLATFORM_TZ).replace(microsecond=0)
    if end <= start:
        return start
    page_no = 1
    try:
        while True:
            page = read(
                client,
                session,
                start_modified=start,
                end_modified=end,
                fields=fields,
                page_no=page_no,
                page_size=20,
                use_has_next=True,
            )
            for item in page.items:
                store[int(item[key])] = item
            if not page.has_next:
                break
            page_no += 1
    except TopError:
        pass  # the naive scheme does not check: the window counts as done
    return end + timedelta(seconds=1)
