"""The item streams: one per item list, each through the sync engine's rules.

``items.onsale.get`` and ``items.inventory.get`` list items by ``modified`` (asked sorted
``modified:desc``, so windows are read from their last page back), with list fields only;
``item.seller.get`` gives each changed item with its SKUs (``trades.items.write``). An item
moves between the lists (sold out: to the warehouse, banner ``sold_out``; restocked: back on
sale), and each list shows it only while it is there, so all three are read: on sale, sold
out, and the rest of the warehouse (``for_shelved``). An item's first window reads every
item modified since Taobao began (items are older than any trade window).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial

from ordersync.taobao import api
from ordersync.taobao.client import TopClient
from ordersync.taobao.types import PLATFORM_TZ
from shops.models import Shop, SyncRun
from trades.items.models import Item
from trades.items.write import ITEM_LIST_FIELDS, write_items
from trades.sync.incremental import sync_shop
from trades.sync.streams import Stream, register

TAOBAO_BEGAN = datetime(2003, 5, 10, tzinfo=PLATFORM_TZ)


def _stream(name: str, lister: Callable[..., api.Page]) -> Stream:
    return Stream(
        name,
        "num_iid",
        ITEM_LIST_FIELDS,
        lister,
        write_items,
        needs_orders=False,
        sorted_by_modified=True,
        required=("modified",),
        model=Item,
        since=TAOBAO_BEGAN,
    )


ITEM_STREAMS = (
    _stream("items_onsale", api.items_onsale_get),
    _stream("items_soldout", partial(api.items_inventory_get, banner="sold_out")),
    _stream("items_shelved", partial(api.items_inventory_get, banner="for_shelved")),
)


def register_streams() -> None:
    for stream in ITEM_STREAMS:
        register(stream)


def sync_items(
    shop: Shop, *, client: TopClient | None = None, stop_at: float | None = None
) -> list[SyncRun]:
    """Run the shop's item streams one after the other; return their runs."""
    return [sync_shop(shop, s.name, client=client, stop_at=stop_at) for s in ITEM_STREAMS]
