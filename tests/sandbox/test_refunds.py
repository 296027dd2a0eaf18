"""Refunds as the platform lists them: the default type filter, the 3-month scope, versions
that become visible after the lag, drift while paging, same-second versions, and a list
order the platform does not document."""

from __future__ import annotations

import requests

from ordersync.sandbox import activity
from ordersync.sandbox.market import ALL_TYPES, REFUND_DEFAULT_TYPES
from tests.support.sandbox_http import control

FIELDS = "refund_id,tid,status,modified,created,desc"
EVERY_TYPE = ",".join(sorted(ALL_TYPES))


def listed(top, **params) -> list[dict]:
    out, page = [], 1
    while True:
        inner = top.ok(
            "taobao.refunds.receive.get",
            fields=FIELDS,
            page_no=str(page),
            page_size="100",
            **params,
        )
        batch = inner.get("refunds", {}).get("refund", [])
        out += batch
        if len(batch) < 100:
            return out
        page += 1


def truth(sb) -> list[dict]:
    return control(sb, "GET", "oracle/refunds", nick="shop-a")["refunds"]


def test_the_refund_list_applies_its_default_type_filter(sb, top):
    refunds = truth(sb)
    hidden = {r["refund_id"] for r in refunds if r["type"] not in REFUND_DEFAULT_TYPES}
    shown = {r["refund_id"] for r in refunds if r["type"] in REFUND_DEFAULT_TYPES}
    assert hidden and shown, "the history has refunds on both kinds of trade"

    assert {r["refund_id"] for r in listed(top)} == shown
    assert {r["refund_id"] for r in listed(top, type="guarantee_trade,auto_delivery")} == shown
    assert {r["refund_id"] for r in listed(top, type=EVERY_TYPE)} == shown | hidden


def test_refunds_older_than_three_months_are_gone(sb, top):
    seller = sb.state.sellers["shop-a"]
    now = sb.state.now()
    assert seller.refunds_by_modified(now, 0, 2 * now, None, ALL_TYPES)
    assert seller.refunds_by_modified(now + 100 * 86400, 0, 2 * now, None, ALL_TYPES) == []


def _change_a_refund(sb) -> tuple[dict, str]:
    """Open or move one refund now (in the live market's way); return its list entry before
    the change and the refund id."""
    world = sb.state
    seller = world.sellers["shop-a"]
    with world.lock:
        before = {rid: len(r.versions) for rid, r in seller.refunds.items()}
        for _ in range(50):
            activity.random_refund(world, seller, world.now())
            changed = [
                rid for rid, r in seller.refunds.items() if len(r.versions) > before.get(rid, 0)
            ]
            if changed:
                return seller.refunds[changed[0]], changed[0]
    raise AssertionError("no refund changed")


def test_a_refund_change_becomes_visible_after_the_lag(sb, top):
    control(sb, "POST", "faults", {"lag_seconds": 600})
    refund, refund_id = _change_a_refund(sb)
    current = top.ok("taobao.refund.get", fields=FIELDS, refund_id=refund_id)["refund"]

    shown = {r["refund_id"]: r for r in listed(top, type=EVERY_TYPE)}
    assert (shown.get(refund_id) or {}).get("modified") != current["modified"] or (
        shown[refund_id]["status"] != current["status"]
    ), "the list still shows the version before the change (or nothing yet)"

    control(sb, "POST", "faults", {"skew_seconds": 601})  # ten minutes later
    shown = {r["refund_id"]: r for r in listed(top, type=EVERY_TYPE)}
    assert shown[refund_id]["status"] == current["status"]
    assert shown[refund_id]["modified"] == current["modified"]


def test_refunds_drift_while_the_list_is_paged(sb, top):
    control(sb, "POST", "faults", {"drift_rate": 1.0, "drift_trades": 3})
    seller = sb.state.sellers["shop-a"]
    before = {rid: len(r.versions) for rid, r in seller.refunds.items()}
    first = listed(top, type=EVERY_TYPE)
    moved = [rid for rid, r in seller.refunds.items() if len(r.versions) > before[rid]]
    assert moved, "open refunds of the listed window changed between page calls"
    assert set(moved) <= {r["refund_id"] for r in first}
    assert sb.state.injected["drift"] >= len(moved)


def test_same_second_versions_differ_and_the_later_becomes_visible_later(sb, top):
    control(sb, "POST", "faults", {"same_second_rate": 1.0})
    refund, refund_id = _change_a_refund(sb)
    last, previous = refund.versions[-1], refund.versions[-2]
    assert last.modified == previous.modified
    assert last.data != previous.data
    assert last.visible_at == previous.visible_at + 5  # same_second_delay_seconds

    listed_now = {r["refund_id"]: r for r in listed(top, type=EVERY_TYPE)}
    assert listed_now[refund_id]["modified"] == last.data["modified"]
    assert listed_now[refund_id] != {k: last.data.get(k) for k in listed_now[refund_id]}, (
        "the first version of the second is shown until the second becomes visible"
    )
    control(sb, "POST", "faults", {"skew_seconds": last.visible_at - previous.visible_at + 1})
    listed_later = {r["refund_id"]: r for r in listed(top, type=EVERY_TYPE)}
    assert listed_later[refund_id] == {k: last.data.get(k) for k in listed_later[refund_id]}


def test_the_refund_list_order_is_a_switch(sb, top):
    by_modified = listed(top, type=EVERY_TYPE)
    stamps = [r["modified"] for r in by_modified]
    assert stamps == sorted(stamps, reverse=True)

    control(sb, "POST", "faults", {"refund_order": "created_asc"})
    by_created = listed(top, type=EVERY_TYPE)
    keys = [(r["created"], int(r["refund_id"])) for r in by_created]
    assert keys == sorted(keys)
    assert {r["refund_id"] for r in by_created} == {r["refund_id"] for r in by_modified}

    response = requests.post(f"{sb.url}/_sandbox/faults", json={"refund_order": "random"})
    assert response.status_code == 400
