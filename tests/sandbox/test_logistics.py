"""Parcels in the sandbox: traces that advance with its clock, fates in the shares asked for,
split waybills read per sub-order, the trace API's faults, and the oracle that knows it all."""

from __future__ import annotations

from collections import Counter

import requests

from tests.support.sandbox_http import Top, control, error_of, later, make_seller

METHOD = "taobao.logistics.trace.search"


def shipped(sb, nick: str, count: int = 30, **mix) -> tuple[Top, list[dict]]:
    seller = make_seller(sb, nick, history_trades=0)
    control(sb, "POST", "clock", {"mode": "manual"})
    control(sb, "POST", "market", {"nick": nick, "burst": count, "ship": count, **mix})
    return Top(sb, session=seller["session"]), oracle(sb, nick)


def oracle(sb, nick: str) -> list[dict]:
    return control(sb, "GET", "oracle/logistics", nick=nick)["parcels"]


def steps(inner: dict) -> list[dict]:
    return inner["trace_list"]["transit_step_info"]


def test_traces_advance_with_the_clock_as_the_oracle_says(sb, app):
    top, parcels = shipped(sb, "moving", logistics_split_share=0)
    first = parcels[0]
    assert first["shown"] == 1 and first["steps"][0][2] == "CONSIGN"
    assert len(steps(top.ok(METHOD, tid=str(first["tid"])))) == 1
    later(sb, 3 * 86400)
    now = {p["out_sid"]: p for p in oracle(sb, "moving")}[first["out_sid"]]
    inner = top.ok(METHOD, tid=str(first["tid"]))
    assert inner["out_sid"] == first["out_sid"] and inner["company_name"]
    assert [s["status_time"] for s in steps(inner)] == [s[0] for s in now["steps"][: now["shown"]]]
    assert inner["status"] == now["steps"][now["shown"] - 1][1]
    assert now["shown"] > 1


def test_parcels_take_the_fates_of_the_shares_asked_for(sb, app):
    # every other fate's share is zero: the default 1 % never picked up would otherwise show
    # in one run of three among 40 parcels (which waybill numbers a run draws varies)
    mix = {"logistics_stall_share": 0.5, "logistics_lost_share": 0.5}
    others = {"logistics_offline_share": 0, "logistics_unpicked_share": 0}
    _, parcels = shipped(sb, "fates", count=40, **others, **mix)
    assert Counter(p["fate"] for p in parcels).keys() == {"stalled", "lost"}
    later(sb, 20 * 86400)
    for parcel in oracle(sb, "fates"):
        actions = [step[2] for step in parcel["steps"]]
        assert "SIGNED" in actions if parcel["fate"] == "stalled" else "SIGNED" not in actions
        assert parcel["next_step_at"] is None


def test_offline_and_never_picked_up_parcels(sb, app):
    top, parcels = shipped(sb, "odd", logistics_offline_share=0.5, logistics_unpicked_share=0.5)
    later(sb, 10 * 86400)
    for parcel in parcels:
        inner = top.ok(METHOD, tid=str(parcel["tid"]), is_split="1", sub_tid=str(parcel["oids"][0]))
        if parcel["fate"] == "offline":
            assert inner["status"] == "对方已签收" and len(steps(inner)) == 1
        else:
            assert [s["action"] for s in steps(inner)] == ["CONSIGN"]


def test_a_split_shipment_is_read_per_sub_order(sb, app):
    top, parcels = shipped(sb, "split", count=40, logistics_split_share=1.0)
    split = [p for p in parcels if p["split"]]
    by_tid: dict[int, list[dict]] = {}
    for parcel in split:
        by_tid.setdefault(parcel["tid"], []).append(parcel)
    tid, bills = next((t, b) for t, b in by_tid.items() if len(b) > 1)
    for bill in bills:
        inner = top.ok(METHOD, tid=str(tid), is_split="1", sub_tid=str(bill["oids"][0]))
        assert inner["out_sid"] == bill["out_sid"]
    assert top.ok(METHOD, tid=str(tid))["out_sid"] == bills[0]["out_sid"]  # read whole: one
    both = f"{bills[0]['oids'][0]},{bills[1]['oids'][0]}"
    error = error_of(top.call(METHOD, tid=str(tid), is_split="1", sub_tid=both))
    assert error["sub_code"] == "isv.logistics-trace-not-exist"


def test_the_trace_api_has_the_faults_of_every_api(sb, app):
    top, parcels = shipped(sb, "faulty", count=5)
    control(sb, "POST", "faults", {"isp_rate": 1.0, "methods": [METHOD]})
    error = error_of(top.call(METHOD, tid=str(parcels[0]["tid"])))
    assert error["code"] == 15 and error["sub_code"].startswith("isp.")
    incomplete = {"isp_rate": 0.0, "incomplete_rate": 1.0, "incomplete_parts": ["item"]}
    control(sb, "POST", "faults", incomplete)
    inner = top.call(METHOD, tid=str(parcels[0]["tid"]))["logistics_trace_search_response"]
    assert inner["out_sid"] and "status" not in inner  # a success without what it must carry


def test_a_bad_logistics_setting_is_a_400(sb, app):
    make_seller(sb, "bad", history_trades=0)
    response = requests.post(
        f"{sb.url}/_sandbox/market", json={"nick": "bad", "logistics_stall_share": "x"}
    )
    assert response.status_code == 400, response.text
