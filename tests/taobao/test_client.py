"""Requests, envelopes, retries and instrumentation of TopClient (HTTP stubbed with responses)."""

from __future__ import annotations

import json
import random
from datetime import datetime
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses

from ordersync.taobao import api, instrument
from ordersync.taobao.client import AppCredentials, TopClient
from ordersync.taobao.errors import InvalidRequest, RateLimited, SessionInvalid, Transient
from ordersync.taobao.limiter import MemoryLimiterStore, TokenBucketLimiter
from ordersync.taobao.retry import RetryPolicy
from ordersync.taobao.signing import sign
from ordersync.taobao.types import PLATFORM_TZ, parse_money, parse_time

GATEWAY = "http://127.0.0.1:9/router/rest"
APP = AppCredentials(app_key="12345678", app_secret="helloworld", gateway_url=GATEWAY)
BIG_TID = 1347456243421196949  # beyond 2**53


def client(**kw) -> TopClient:
    kw.setdefault("sleep", lambda seconds: None)
    kw.setdefault("policy", RetryPolicy(max_attempts=4, rng=random.Random(1)))
    return TopClient(APP, **kw)


def add(body, status=200, content_type="application/json"):
    text = body if isinstance(body, (str, bytes)) else json.dumps(body)
    responses.add(responses.POST, GATEWAY, body=text, status=status, content_type=content_type)


def sent(index=-1):
    request = responses.calls[index].request
    query = dict(parse_qsl(urlsplit(request.url).query))
    form = dict(parse_qsl(request.body)) if request.body else {}
    return query, form, request


@responses.activate
def test_system_params_in_query_business_params_in_form_and_signed():
    add({"time_get_response": {"time": "2026-11-22 09:00:00", "request_id": "r"}})
    c = client()
    start = datetime(2026, 11, 22, 9, 0, tzinfo=PLATFORM_TZ)
    c.call(
        "taobao.time.get",
        {"fields": ["tid", "status"], "start": start, "flag": True, "empty": "", "none": None},
        session="sk-secret",
    )
    query, form, request = sent()
    assert set(query) == {
        "method",
        "app_key",
        "timestamp",
        "v",
        "sign_method",
        "format",
        "partner_id",
        "session",
        "sign",
    }
    assert query["format"] == "json" and query["sign_method"] == "hmac-sha256"
    assert form == {"fields": "tid,status", "start": "2026-11-22 09:00:00", "flag": "true"}
    unsigned = {k: v for k, v in query.items() if k != "sign"}
    assert query["sign"] == sign({**unsigned, **form}, "helloworld", "hmac-sha256")
    assert "gzip" in request.headers["Accept-Encoding"]
    assert c.calls == 1


@responses.activate
@pytest.mark.parametrize("method", ["md5", "hmac", "hmac-sha256"])
def test_each_sign_method(method):
    add({"time_get_response": {"time": "2026-11-22 09:00:00"}})
    app = AppCredentials("k", "s", GATEWAY, sign_method=method)
    TopClient(app).call("taobao.time.get", {"a": 1})
    query, form, _ = sent()
    unsigned = {k: v for k, v in query.items() if k != "sign"}
    assert query["sign_method"] == method
    assert query["sign"] == sign({**unsigned, **form}, "s", method)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        client()._signed("m", {"start": datetime(2026, 1, 1)}, None)


TRADE = {
    "tid": BIG_TID,
    "tid_str": str(BIG_TID),
    "payment": "200.07",
    "modified": "2026-11-22 09:00:01",
    "orders": {"order": [{"oid": "1347456243421196950", "oid_str": "1347456243421196950"}]},
}


@responses.activate
def test_default_envelope_lists_flattened_ids_exact():
    add(
        '{"trades_sold_increment_get_response":{"total_results":1,"trades":{"trade":['
        + json.dumps(TRADE)
        + ']},"request_id":"s7ezljq8tz3j"}}'
    )
    page = api.trades_sold_increment_get(
        client(),
        "sk",
        start_modified=datetime(2026, 11, 22, 8, 30, tzinfo=PLATFORM_TZ),
        end_modified=datetime(2026, 11, 22, 9, tzinfo=PLATFORM_TZ),
        fields="tid,payment,orders",
    )
    assert page.total_results == 1 and page.has_next is None
    trade = page.items[0]
    assert trade["tid"] == BIG_TID and isinstance(trade["tid"], int)
    assert trade["orders"][0]["oid"] == 1347456243421196950
    assert parse_money(trade["payment"]) == Decimal("200.07")
    assert parse_time(trade["modified"]) == datetime(2026, 11, 22, 9, 0, 1, tzinfo=PLATFORM_TZ)
    _, form, _ = sent()
    assert form["start_modified"] == "2026-11-22 08:30:00" and form["use_has_next"] == "false"


@responses.activate
def test_simplify_envelope():
    add({"trades": [TRADE | {"orders": [{"oid": 5}]}], "has_next": False, "request_id": "x"})
    page = api.trades_sold_get(
        client(simplify=True),
        "sk",
        start_created=datetime(2026, 11, 21, tzinfo=PLATFORM_TZ),
        end_created=datetime(2026, 11, 22, tzinfo=PLATFORM_TZ),
        fields=["tid"],
    )
    assert page.has_next is False and page.total_results is None
    assert page.items[0]["orders"] == [{"oid": 5}]
    assert sent()[0]["simplify"] == "true"


@responses.activate
@pytest.mark.parametrize(
    "body",
    [
        {"trades_sold_get_response": {"total_results": 0, "trades": {}}},
        {"trades_sold_get_response": {"total_results": 0}},
    ],
)
def test_empty_results(body):
    add(body)
    page = api.trades_sold_get(
        client(),
        "sk",
        start_created=datetime(2026, 1, 1, tzinfo=PLATFORM_TZ),
        end_created=datetime(2026, 1, 2, tzinfo=PLATFORM_TZ),
        fields="tid",
    )
    assert page.items == [] and page.total_results == 0


@responses.activate
def test_single_list_field_object_is_not_mistaken_for_a_wrapper():
    add({"trade_fullinfo_get_response": {"trade": {"orders": {"order": [{"oid": 1}]}}}})
    assert api.trade_fullinfo_get(client(), "sk", 1, "orders") == {"orders": [{"oid": 1}]}


@responses.activate
def test_other_api_functions():
    add(
        {
            "refund_get_response": {
                "refund": {"refund_id": "123456789012345678", "refund_fee": "1.00"}
            }
        }
    )
    add(
        {
            "refunds_receive_get_response": {
                "total_results": 1,
                "refunds": {"refund": [{"refund_id": 1}]},
            }
        }
    )
    add(
        {
            "logistics_trace_search_response": {
                "tid": 7,
                "out_sid": "YTO1",
                "status": "快件已揽收",
                "trace_list": {"transit_step_info": [{"action": "GOT"}]},
            }
        }
    )
    add({"time_get_response": {"time": "2015-09-16 15:53:37"}})
    c = client()
    assert (
        api.refund_get(c, "sk", 123456789012345678, "refund_id")["refund_id"] == 123456789012345678
    )
    when = datetime(2026, 1, 1, tzinfo=PLATFORM_TZ)
    page = api.refunds_receive_get(
        c, "sk", start_modified=when, end_modified=when, fields="refund_id"
    )
    assert page.items == [{"refund_id": 1}]
    assert api.logistics_trace_search(c, "sk", 7)["trace_list"] == [{"action": "GOT"}]
    assert api.time_get(c) == datetime(2015, 9, 16, 15, 53, 37, tzinfo=PLATFORM_TZ)
    assert c.calls == 4


@responses.activate
@pytest.mark.parametrize(
    ("body", "status", "excerpt"),
    [
        ("<html><body>502 Bad Gateway</body></html>", 502, "<html><body>502"),
        ("<html><body>maintenance</body></html>", 200, "<html><body>maint"),
        ('{"trades_sold_get_response":{"total_results":3,"trades":{"tr', 200, '{"trades_sold'),
        ("[1, 2]", 200, "[1, 2]"),
        ("", 200, ""),
    ],
)
def test_malformed_bodies_are_transient_with_an_excerpt(body, status, excerpt):
    add(body, status=status, content_type="text/html")
    with pytest.raises(Transient) as caught:
        client(policy=RetryPolicy(max_attempts=1)).call("taobao.trades.sold.get", {})
    assert caught.value.excerpt.startswith(excerpt)
    assert len(caught.value.excerpt) <= 200


@responses.activate
def test_retry_succeeds_after_isp_errors():
    isp = {
        "error_response": {
            "code": 15,
            "msg": "Remote service error",
            "sub_code": "isp.top-remote-connection-timeout",
        }
    }
    add(isp)
    add("oops", status=503)
    add({"time_get_response": {"time": "2026-11-22 09:00:00"}})
    slept = []
    c = client(sleep=slept.append)
    assert api.time_get(c).year == 2026
    assert c.calls == 3 and len(slept) == 2


@responses.activate
def test_invalid_request_and_session_raise_at_once():
    add({"error_response": {"code": 15, "msg": "x", "sub_code": "isv.invalid-parameter"}})
    add(
        {"error_response": {"code": 27, "msg": "Invalid session", "sub_code": "invalid-sessionkey"}}
    )
    c = client()
    with pytest.raises(InvalidRequest):
        c.call("taobao.trades.sold.get", {})
    with pytest.raises(SessionInvalid):
        c.call("taobao.trades.sold.get", {})
    assert c.calls == 2


@responses.activate
def test_rate_limited_waits_the_ban_and_tells_the_limiter():
    add(
        {
            "error_response": {
                "code": 7,
                "msg": "App Call Limited",
                "sub_code": "accesscontrol.limited-by-app-api-access-count",
                "sub_msg": "This ban will last for 1 more seconds",
            }
        }
    )
    add({"time_get_response": {"time": "2026-11-22 09:00:00"}})
    store = MemoryLimiterStore()
    limiter = TokenBucketLimiter(store, 600)
    slept = []
    c = client(sleep=slept.append, limiter=limiter)
    api.time_get(c)
    assert slept and 1 <= slept[0] <= 1.2
    # the client's own sleep is stubbed here, so the limiter held the retry for the ban
    assert limiter.waits == 1 and limiter.wait_seconds >= 0.9


@responses.activate
def test_too_long_a_ban_is_raised_not_slept():
    add(
        {
            "error_response": {
                "code": 7,
                "msg": "App Call Limited",
                "sub_code": "accesscontrol.limited-by-app-access-count",
                "sub_msg": "This ban will last for 31062 more seconds",
            }
        }
    )
    slept = []
    with pytest.raises(RateLimited) as caught:
        client(sleep=slept.append).call("taobao.time.get", {})
    assert caught.value.ban_seconds == 31062 and slept == []


@responses.activate
def test_transport_failure_is_transient_and_never_shows_the_session():
    responses.add(
        responses.POST,
        GATEWAY,
        body=requests.ConnectionError(
            "Max retries exceeded with url: /router/rest?session=sk-secret&sign=ABC&method=m"
        ),
    )
    with pytest.raises(Transient) as caught:
        client(policy=RetryPolicy(max_attempts=1)).call("m", {}, session="sk-secret")
    assert "sk-secret" not in str(caught.value) and "ABC" not in str(caught.value)


def test_secrets_not_in_repr():
    assert "helloworld" not in repr(APP)
    assert "helloworld" not in repr(client())


@responses.activate
def test_every_http_call_reaches_the_hook():
    add({"error_response": {"code": 15, "msg": "x", "sub_code": "isp.remote-connection-error"}})
    add({"time_get_response": {"time": "2026-11-22 09:00:00"}})
    seen, local = [], []
    instrument.add_listener(seen.append)
    try:
        api.time_get(client(on_call=local.append))
    finally:
        instrument.remove_listener(seen.append)
    assert [(r.method, r.outcome, r.code, r.sub_code) for r in seen] == [
        ("taobao.time.get", "Transient", 15, "isp.remote-connection-error"),
        ("taobao.time.get", "ok", None, None),
    ]
    assert local == seen and all(r.app_key == "12345678" and r.duration >= 0 for r in seen)


@responses.activate
def test_a_broken_listener_does_not_fail_the_call():
    add({"time_get_response": {"time": "2026-11-22 09:00:00"}})

    def broken(record):
        raise RuntimeError("boom")

    instrument.add_listener(broken)
    try:
        api.time_get(client())
    finally:
        instrument.remove_listener(broken)


def test_retry_policy_backoff_is_capped_and_jitter_pinned():
    class Pinned(random.Random):
        def uniform(self, a, b):
            return b  # the top of the jitter range

    policy = RetryPolicy(max_attempts=5, base=0.5, cap=4.0, rng=Pinned())
    error = Transient("x")
    assert [policy.sleep_seconds(error, n) for n in (1, 2, 3, 4, 5, 6)] == [0.5, 1, 2, 4, 4, 4]
    assert policy.should_retry(error, 4) and not policy.should_retry(error, 5)
    assert not policy.should_retry(InvalidRequest("x"), 1)
    ban = RateLimited("x", ban_seconds=3)
    assert policy.sleep_seconds(ban, 1) == pytest.approx(3.3)
    assert policy.should_retry(ban, 1)
    assert not policy.should_retry(RateLimited("x", ban_seconds=3600), 1)


def test_jitter_spreads_between_half_and_full_backoff():
    policy = RetryPolicy(base=1.0, cap=60, rng=random.Random(7))
    delays = [policy.sleep_seconds(Transient("x"), 3) for _ in range(200)]
    assert 2.0 <= min(delays) < 2.2 and 3.8 < max(delays) <= 4.0
