"""The item APIs (docs/platform.md §12), stock that sales take and restocks give back, and
the sales oracle's demand shape."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from tests.support.sandbox_http import control, error_of, make_seller

ONSALE, INVENTORY, DETAIL = (
    "taobao.items.onsale.get",
    "taobao.items.inventory.get",
    "taobao.item.seller.get",
)


def items_of(inner: dict) -> list[dict]:
    return inner.get("items", {}).get("item", [])


def test_the_lists_show_list_fields_and_the_detail_shows_skus(top, sb):
    onsale = top.ok(ONSALE, fields="num_iid,title,num,modified,skus", page_size="200")
    assert onsale["total_results"] == 22 and len(items_of(onsale)) == 22
    assert all("skus" not in item and "num" in item for item in items_of(onsale))
    warehouse = top.ok(INVENTORY, fields="num_iid,approve_status")
    assert {i["approve_status"] for i in items_of(warehouse)} == {"instock"}
    item = items_of(onsale)[0]
    detail = top.ok(DETAIL, num_iid=str(item["num_iid"]), fields="num_iid,num,modified,sku")["item"]
    skus = detail["skus"]["sku"]
    assert len(skus) == 3 and sum(s["quantity"] for s in skus) == detail["num"]
    truth = {i["num_iid"]: i for i in control(sb, "GET", "oracle/items", nick="shop-a")["items"]}
    assert {s["sku_id"]: s["quantity"] for s in skus} == truth[item["num_iid"]]["skus"]


def test_bad_parameters_are_refused(top):
    for method, params in (
        (ONSALE, {"order_by": "colour:desc"}),
        (ONSALE, {"page_no": "201", "page_size": "100"}),
        (INVENTORY, {"page_no": "102"}),
        (INVENTORY, {"banner": "everything"}),
        (DETAIL, {"num_iid": "1"}),
    ):
        body = top.call(method, fields="num_iid", **params)
        assert error_of(body)["sub_code"].startswith("isv."), (method, params)


def test_a_restock_adds_to_the_stock(top, sb):
    item = control(sb, "GET", "oracle/items", nick="shop-a")["items"][0]
    sku, before = next(iter(item["skus"].items()))
    control(sb, "POST", "sellers/shop-a/restock", {"sku_id": sku, "units": 40})
    after = control(sb, "GET", "oracle/items", nick="shop-a")["items"][0]
    assert after["skus"][sku] == before + 40 and after["modified"] >= item["modified"]


def test_the_history_has_a_weekday_shape(sb, app):
    make_seller(sb, "shaped", history_trades=6000, history_days=56)
    sales = control(sb, "GET", "oracle/sales", nick="shaped")
    per_weekday: dict[int, int] = defaultdict(int)
    for per_day in sales["sales"].values():
        for day, units in per_day.items():
            when = date.fromisoformat(day)
            if when.day not in sales["demand"]["promo_monthdays"]:
                per_weekday[when.weekday()] += units
    assert per_weekday[5] > 1.2 * per_weekday[1]  # Saturday's shoppers outbuy Tuesday's
