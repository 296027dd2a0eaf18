"""What differs between the trade and the refund streams: API, fields, key and writer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Model

from ordersync.taobao import api
from ordersync.taobao.client import TopClient
from trades.sync.fields import REFUND_FIELDS, TRADE_FIELDS
from trades.sync.write import WriteResult, write_refunds, write_trades


def refunds_receive_get(
    client: TopClient, session: str, *, type: str | None = None, **params: Any
) -> api.Page:
    """``refunds.receive.get`` naming every type we sync: without ``type`` the platform lists
    only refunds of guarantee_trade and auto_delivery trades (docs/platform.md §4.8). Trade lists
    name their types where they are read (``SYNC_TRADE_TYPES`` too)."""
    every = ",".join(settings.SYNC_TRADE_TYPES)
    return api.refunds_receive_get(client, session, type=type or every, **params)


@dataclass(frozen=True)
class Stream:
    name: str
    key: str
    fields: str
    list_modified: Callable[..., api.Page]  # (client, session, *, start_modified, …) -> Page
    write: Callable[..., WriteResult]  # (shop, records, *, client, current) -> WriteResult
    needs_orders: bool
    # the list is sorted by modified, descending (documented for increment.get only)
    sorted_by_modified: bool = False
    # what every listed record carries (without it, the record is set aside as malformed)
    required: tuple[str, ...] = ("status", "created", "modified")
    # the stored rows (for "already stored at this modified"); None: trades or refunds
    model: type[Model] | None = None
    # a stream whose records may be older than any window (items): its first window reads
    # from here to now − lag; None: the first window starts at the present
    since: datetime | None = None


TRADES = Stream(
    "trades",
    "tid",
    TRADE_FIELDS,
    api.trades_sold_increment_get,
    write_trades,
    needs_orders=True,
    sorted_by_modified=True,
)
REFUNDS = Stream("refunds", "refund_id", REFUND_FIELDS, refunds_receive_get, write_refunds, False)
STREAMS = {stream.name: stream for stream in (TRADES, REFUNDS)}


def register(stream: Stream) -> None:
    """Add a stream of another folder (items) to the engine's (at app start)."""
    STREAMS[stream.name] = stream
