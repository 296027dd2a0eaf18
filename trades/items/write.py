"""The items' write path: list entries → ``item.seller.get`` (always current) → upsert.

A listed item already stored at its ``modified`` (or a newer one) costs nothing: the lists
re-read their overlap on every window. The others are fetched whole, SKUs included, and
written in one transaction, locked in ``num_iid`` order; a row is never replaced by an
older ``modified``. The detail API is always current, so a detail of the stored second with
other content replaces the row (the platform settled it).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from ordersync.taobao import api
from ordersync.taobao.client import TopClient
from ordersync.taobao.errors import InvalidRequest
from ordersync.taobao.types import parse_money, parse_time, require_time
from shops.models import Shop
from shops.top import client_for_shop
from trades.feed.changes import Change
from trades.items.models import Item, ItemSku
from trades.sync.write import WriteResult

ITEM_LIST_FIELDS = "num_iid,title,approve_status,num,modified,outer_id"
ITEM_FIELDS = "num_iid,title,approve_status,num,modified,outer_id,price,list_time,sku"


def write_items(
    shop: Shop, entries: list[dict[str, Any]], *, client: TopClient | None = None, **_: Any
) -> WriteResult:
    """Write the listed items not stored yet at their ``modified``; return what changed."""
    fresh = not_stored(shop, entries)
    if not fresh:
        return WriteResult(len(entries), 0, [])
    client = client_for_shop(shop, client)
    details = [d for d in (_detail(client, shop, e["num_iid"]) for e in fresh) if d]
    with transaction.atomic():
        changes = [_upsert(shop, d) for d in sorted(details, key=lambda d: d["num_iid"])]
    done = [c for c in changes if c is not None]
    return WriteResult(len(entries), len(done), done)


def not_stored(shop: Shop, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``entries`` without the items stored at their ``modified`` or a newer one."""
    keys = [e["num_iid"] for e in entries]
    stored = dict(
        Item.objects.filter(shop=shop, num_iid__in=keys).values_list("num_iid", "modified")
    )
    out = []
    for entry in entries:
        have, listed = stored.get(entry["num_iid"]), parse_time(entry.get("modified"))
        if have is None or listed is None or have < listed:
            out.append(entry)
    return out


def _detail(client: TopClient, shop: Shop, num_iid: int) -> dict[str, Any] | None:
    try:
        return api.item_seller_get(client, shop.session_key, num_iid, ITEM_FIELDS)
    except InvalidRequest:
        return None  # gone (deleted) since it was listed: the stored row stays as it was


def _upsert(shop: Shop, detail: dict[str, Any]) -> Change | None:
    """Write one item and its SKUs unless the stored row is newer or the same."""
    modified = require_time(detail.get("modified"))
    item = Item.objects.select_for_update().filter(shop=shop, num_iid=detail["num_iid"]).first()
    if item is not None and (item.modified, item.payload == detail) >= (modified, True):
        return None  # stored newer, or this very version
    previous = item.approve_status if item is not None else None
    item = item or Item(shop=shop, tenant_id=shop.tenant_id, num_iid=detail["num_iid"])
    item.title = str(detail.get("title") or "")[:300]
    item.outer_id = str(detail.get("outer_id") or "")[:64]
    item.approve_status = str(detail.get("approve_status") or "")
    item.num = int(detail.get("num") or 0)
    item.modified, item.payload = modified, detail
    item.save()
    _write_skus(shop, item, detail.get("skus") or [])
    return Change("item", item.pk, item.num_iid, item.approve_status, previous, modified)


def _write_skus(shop: Shop, item: Item, skus: list[dict[str, Any]]) -> None:
    """The item's SKUs as the detail lists them (a SKU it no longer lists is deleted)."""
    item.skus.exclude(sku_id__in=[str(s["sku_id"]) for s in skus]).delete()
    for sku in skus:
        ItemSku.objects.update_or_create(
            item=item,
            sku_id=str(sku["sku_id"]),
            defaults={
                "shop": shop,
                "outer_id": str(sku.get("outer_id") or "")[:64],
                "properties_name": str(sku.get("properties_name") or "")[:300],
                "price": parse_money(sku.get("price")),
                "quantity": int(sku.get("quantity") or 0),
            },
        )
