"""Protocol: signatures, system-parameter error codes, timestamps, params, envelopes."""

from __future__ import annotations

import hashlib
import http.client
import json
import time
import urllib.parse

import pytest
import requests

from ordersync.sandbox.clock import fmt
from ordersync.taobao.signing import sign
from tests.support.sandbox_http import APP_KEY, APP_SECRET, Top, control, error_of

OFFICIAL = {
    "method": "taobao.item.seller.get",
    "app_key": "12345678",
    "session": "test",
    "timestamp": "2016-01-01 12:00:00",
    "format": "json",
    "v": "2.0",
    "sign_method": "md5",
    "fields": "num_iid,title,nick,price,num",
    "num_iid": "11223344",
}


def test_official_md5_vectors():
    assert sign(OFFICIAL, "helloworld", "md5") == "66987CB115214E59E6EC978214934FB8"
    second = {
        "app_key": "test",
        "fields": "nick",
        "format": "xml",
        "method": "taobao.user.seller.get",
        "session": "test",
        "sign_method": "md5",
        "timestamp": "2013-05-06 13:52:03",
        "v": "2.0",
    }
    assert sign(second, "test", "md5") == "72CB4D809B375A54502C09360D879C64"


def test_gateway_accepts_the_official_signature_and_rejects_a_tampered_one(sb, app):
    """The official request passes the signature check and stops at its 2016 timestamp."""
    http = requests.Session()
    good = http.post(sb.gateway_url, data={**OFFICIAL, "sign": "66987CB115214E59E6EC978214934FB8"})
    assert error_of(good.json())["code"] == 31
    bad = http.post(sb.gateway_url, data={**OFFICIAL, "sign": "66987CB115214E59E6EC978214934FB9"})
    assert error_of(bad.json())["code"] == 25


@pytest.mark.parametrize("sign_method", ["md5", "hmac", "hmac-sha256"])
def test_all_sign_methods(top, sign_method):
    inner = top.ok("taobao.time.get", sign_method=sign_method)
    assert len(inner["time"]) == 19 and inner["request_id"]


@pytest.mark.parametrize("sign_method", ["md5", "hmac", "hmac-sha256"])
def test_wrong_secret_is_invalid_signature(top, sign_method):
    response = top.raw(top.system("taobao.time.get", sign_method), secret="not-the-secret")
    assert error_of(response.json())["code"] == 25


def test_empty_values_are_not_signed(top):
    response = top.raw(top.system("taobao.time.get"), {"buyer_nick": ""})
    assert "error_response" not in response.json()


def test_missing_sign_is_24_and_unknown_sign_method_is_25(top):
    query = top.system("taobao.time.get")
    assert error_of(top.http.post(top.sb.gateway_url, data=query).json())["code"] == 24
    query = top.system("taobao.time.get", sign_method="sha1")
    assert error_of(top.raw({**query, "sign": "ABC"}).json())["code"] == 25


def test_method_errors(top):
    query = top.system("taobao.time.get")
    del query["method"]
    assert error_of(top.raw(query).json())["code"] == 21
    assert error_of(top.call("taobao.no.such.api"))["code"] == 22


def test_app_key_errors(top):
    query = top.system("taobao.time.get")
    del query["app_key"]
    assert error_of(top.raw(query).json())["code"] == 28
    query = top.system("taobao.time.get", app_key="99999999")
    error = error_of(top.raw(query).json())
    assert (error["code"], error["sub_code"]) == (29, "isv.appkey-not-exists")


def test_a_missing_business_argument_is_named_in_code_40(top):
    error = error_of(top.call("taobao.trade.fullinfo.get", fields="tid"))
    assert (error["code"], error["msg"]) == (40, "Missing required arguments:tid")
    assert "sub_code" not in error


def test_gzip_only_when_asked(top):
    query = top.system("taobao.time.get")
    asked = top.raw(query, headers={"Accept-Encoding": "gzip"})
    assert asked.headers["Content-Encoding"] == "gzip" and "time" in str(asked.json())
    plain = top.raw(top.system("taobao.time.get"), headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and "time" in str(plain.json())


@pytest.mark.parametrize("verb", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_a_wrong_http_verb_is_code_9(sb, top, verb):
    query = top.system("taobao.time.get")
    response = requests.request(verb, sb.gateway_url, params=query)
    assert response.status_code == 200
    assert error_of(response.json())["code"] == 9
    assert "error_response" not in top.call("taobao.time.get")  # GET and POST still work


def test_session_errors(sb, top, seller):
    no_session = Top(sb)
    body = no_session.call("taobao.trades.sold.get", fields="tid")
    assert error_of(body)["code"] == 26
    wrong = Top(sb, session="not-a-session")
    error = error_of(wrong.call("taobao.trades.sold.get", fields="tid"))
    assert (error["code"], error["sub_code"]) == (27, "invalid-sessionkey")
    assert "error_response" not in top.call("taobao.trades.sold.get", fields="tid")
    control(sb, "POST", f"sellers/{seller['nick']}/expire_session", {})
    assert error_of(top.call("taobao.trades.sold.get", fields="tid"))["code"] == 27


def test_session_of_another_app_is_invalid(sb, top):
    control(sb, "POST", "apps", {"app_key": "87654321", "app_secret": "other"})
    other = Top(sb, app_key="87654321", secret="other", session=top.session)
    assert error_of(other.call("taobao.trades.sold.get", fields="tid"))["code"] == 27


def test_timestamp_errors(sb, top):
    query = top.system("taobao.time.get")
    del query["timestamp"]
    assert error_of(top.raw(query).json())["code"] == 30
    query = top.system("taobao.time.get", timestamp="2024/01/01 00:00")
    assert error_of(top.raw(query).json())["code"] == 31
    skewed = fmt(time.time() + 11 * 60)
    query = top.system("taobao.time.get", timestamp=skewed)
    assert error_of(top.raw(query).json())["code"] == 31
    query = top.system("taobao.time.get", timestamp=fmt(time.time() + 9 * 60))
    assert "error_response" not in top.raw(query).json()


def test_sandbox_clock_skew_rejects_a_client_on_real_time(sb, top):
    control(sb, "POST", "faults", {"skew_seconds": 3600})
    real = fmt(time.time())
    assert error_of(top.raw(top.system("taobao.time.get", timestamp=real)).json())["code"] == 31
    server_time = top.ok("taobao.time.get")["time"]  # the client helper follows the skew
    assert server_time >= fmt(time.time() + 3590)


def test_timestamp_as_epoch_milliseconds(top):
    query = top.system("taobao.time.get", timestamp=str(int(time.time() * 1000)))
    assert "error_response" not in top.raw(query).json()
    query = top.system("taobao.time.get", timestamp=str(int((time.time() - 3600) * 1000)))
    assert error_of(top.raw(query).json())["code"] == 31


def test_params_from_query_and_body_are_merged_and_signed_together(top):
    query = top.system("taobao.trades.sold.get")
    body = {"fields": "tid,status", "page_size": "3"}
    inner = top.raw(query, body).json()["trades_sold_get_response"]
    assert len(inner["trades"]["trade"]) == 3
    # A GET with everything in the query string works too.
    params = {**query, **body}
    params["sign"] = sign(params, APP_SECRET, "md5")
    got = top.http.get(top.sb.gateway_url, params=params).json()
    assert len(got["trades_sold_get_response"]["trades"]["trade"]) == 3


def test_required_and_invalid_arguments(top):
    error = error_of(top.call("taobao.trades.sold.get"))
    assert (error["code"], error["msg"]) == (40, "Missing required arguments:fields")
    error = error_of(top.call("taobao.trades.sold.get", fields="tid", page_size="101"))
    assert error["code"] == 41 and "page_size" in error["sub_code"]
    error = error_of(top.call("taobao.trades.sold.get", fields="tid", status="NOT_A_STATUS"))
    assert error["code"] == 41


def test_error_envelope_is_http_200_with_all_fields(top):
    response = top.raw(top.system("taobao.trades.sold.get"), {"fields": "tid", "page_size": "0"})
    assert response.status_code == 200
    error = response.json()["error_response"]
    assert set(error) == {"code", "msg", "sub_code", "sub_msg", "request_id"}


def test_default_json_wraps_lists_and_simplify_does_not(top):
    inner = top.ok("taobao.trades.sold.get", fields="tid,orders", page_size="2")
    trade = inner["trades"]["trade"][0]
    assert isinstance(trade["orders"]["order"], list)
    flat = top.call("taobao.trades.sold.get", system={"simplify": "true"}, fields="tid,orders")
    assert isinstance(flat["trades"], list) and isinstance(flat["trades"][0]["orders"], list)
    assert flat["request_id"]


def test_xml_format_answers_xml(top):
    query = top.system("taobao.time.get", format="xml")
    response = top.raw(query)
    assert response.text.startswith("<?xml") and "<time_get_response><time>" in response.text


def test_big_ids_and_money(top):
    inner = top.ok("taobao.trades.sold.get", fields="tid,payment,total_fee,post_fee,orders")
    for trade in inner["trades"]["trade"]:
        assert trade["tid"] > 2**53 and trade["tid_str"] == str(trade["tid"])
        for name in ("payment", "total_fee", "post_fee"):
            whole, frac = trade[name].split(".")
            assert whole.isdigit() and len(frac) == 2
        for order in trade["orders"]["order"]:
            assert order["oid_str"] == str(order["oid"]) and order["oid"] > 2**53


def python_sdk_request(sb, method: str, app: dict, session: str | None = None) -> dict:
    """Send a request the way the official Python SDK (``taobao-sdk-python-20210816``,
    ``top/api/base.py``: ``RestApi.getResponse``) does, rebuilt here independently of
    ``ordersync.taobao.signing``.

    - system params: format json, md5, v 2.0, epoch-ms timestamp, partner_id, method,
      session; they go in the URL query;
    - application params: every attribute that is not None, *empty strings included*, as
      ``str(value)`` (so ``True`` is sent as ``True``); they go in a urlencoded body;
    - sign: ``MD5(secret + "".join(f"{k}{v}" for k in sorted(all params)) + secret)``
      over system and application params together, uppercase hex;
    - POST over http.client with the SDK's three headers; a non-200 status is an error.
    """
    system = {
        "format": "json",
        "app_key": APP_KEY,
        "sign_method": "md5",
        "v": "2.0",
        "timestamp": str(int(time.time() * 1000)),
        "partner_id": "taobao-sdk-python-20210816",
        "method": method,
    }
    if session is not None:
        system["session"] = session
    signed = {**system, **app}
    text = "".join(f"{key}{signed[key]}" for key in sorted(signed))
    system["sign"] = hashlib.md5(f"{APP_SECRET}{text}{APP_SECRET}".encode()).hexdigest().upper()
    connection = http.client.HTTPConnection(sb.host, sb.port, timeout=30)
    headers = {
        "Content-type": "application/x-www-form-urlencoded;charset=UTF-8",
        "Cache-Control": "no-cache",
        "Connection": "Keep-Alive",
    }
    try:
        connection.request(
            "POST",
            "/router/rest?" + urllib.parse.urlencode(system),
            body=urllib.parse.urlencode(app),
            headers=headers,
        )
        response = connection.getresponse()
        assert response.status == 200
        return json.loads(response.read())
    finally:
        connection.close()


def test_the_official_python_sdk_works_unchanged(sb, top):
    answer = python_sdk_request(sb, "taobao.time.get", {})
    assert len(answer["time_get_response"]["time"]) == 19
    now = time.time()
    request = {  # what TradesSoldIncrementGetRequest sends with these attributes set
        "fields": "tid,status,modified",
        "start_modified": fmt(now - 86400 + 60),
        "end_modified": fmt(now),
        "page_size": 100,
        "use_has_next": True,
        "buyer_nick": "",  # set to "" rather than None: sent and signed as a bare name
    }
    answer = python_sdk_request(sb, "taobao.trades.sold.increment.get", request, top.session)
    inner = answer["trades_sold_increment_get_response"]
    assert "has_next" in inner and inner["trades"]["trade"]


def test_empty_values_signed_or_not_are_both_accepted(top):
    """Java/.NET SDKs leave empty values out of the signature; Python, PHP and Go sign them
    as bare names (docs/platform.md §1.4). The gateway takes either, and nothing else."""
    for sign_method in ("md5", "hmac", "hmac-sha256"):
        query = top.system("taobao.time.get", sign_method)
        body = {"buyer_nick": "", "fields": "tid"}
        params = {**query, **body}
        for include_empty in (False, True):
            signature = sign(params, APP_SECRET, sign_method, include_empty=include_empty)
            answer = top.raw({**query, "sign": signature}, body).json()
            assert "error_response" not in answer, (sign_method, include_empty, answer)
        wrong = sign(params, "not-the-secret", sign_method, include_empty=True)
        assert error_of(top.raw({**query, "sign": wrong}, body).json())["code"] == 25


def test_an_empty_value_signed_as_bare_name_differs_from_skipping_it():
    params = {**OFFICIAL, "buyer_nick": ""}
    with_empty = sign(params, "helloworld", "md5", include_empty=True)
    assert sign(params, "helloworld", "md5") == "66987CB115214E59E6EC978214934FB8"
    text = "".join(f"{k}{params[k]}" for k in sorted(params))
    assert "app_key12345678buyer_nickfields" in text  # a bare name between its neighbours
    expected = hashlib.md5(f"helloworld{text}helloworld".encode()).hexdigest().upper()
    assert with_empty == expected != "66987CB115214E59E6EC978214934FB8"


def test_control_time_and_index(sb):
    body = control(sb, "GET", "time")
    assert abs(body["epoch_ms"] / 1000 - time.time()) < 5 and len(body["time"]) == 19
    assert "POST /_sandbox/faults" in " ".join(control(sb, "GET", "")["endpoints"])
