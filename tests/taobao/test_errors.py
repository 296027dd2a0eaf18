"""The one mapping function, table-tested with the payloads of docs/platform.md §2.4, §3."""

from __future__ import annotations

import pytest

from ordersync.taobao.errors import (
    ConfigurationError,
    InvalidRequest,
    PageTooDeep,
    PermissionDenied,
    RateLimited,
    SessionInvalid,
    TopError,
    TradeNotFound,
    TradeServiceRejected,
    Transient,
    error_from_response,
)


def payload(code, msg, sub_code=None, sub_msg=None):
    body = {"code": code, "msg": msg, "request_id": "109wcmcgllsj1"}
    if sub_code:
        body["sub_code"] = sub_code
    if sub_msg:
        body["sub_msg"] = sub_msg
    return {"error_response": body}


TABLE = [
    (payload(25, "Invalid signature"), ConfigurationError),
    (payload(27, "Invalid session", "invalid-sessionkey", "SessionKey非法"), SessionInvalid),
    (payload(26, "Missing session"), SessionInvalid),
    (payload(53, "Insufficient security level"), SessionInvalid),
    (payload(15, "Remote service error", "isv.SMS_TEMPLATE_ILLEGAL"), InvalidRequest),
    (payload(50, "Remote service error", "isv.invalid-parameter", "非法参数"), InvalidRequest),
    (payload(15, "Remote service error", "isv.invalid-parameter:end_modified"), InvalidRequest),
    (payload(41, "Invalid arguments:cid"), InvalidRequest),
    (payload(40, "Missing Required Arguments"), InvalidRequest),
    (payload(40, "Missing required arguments:fields"), InvalidRequest),
    (payload(41, "Invalid Arguments", "isv.invalid-parameter:page_no"), PageTooDeep),
    (payload(29, "Invalid App Key", "isv.appkey-not-exists"), ConfigurationError),
    (payload(9, "Http Action Not Allowed"), ConfigurationError),
    (payload(43, "Parameter Error"), InvalidRequest),
    (payload(10, "Service Currently Unavailable"), Transient),
    (payload(15, "Remote service error", "isp.top-remote-connection-timeout"), Transient),
    (payload(15, "Remote service error", "isp.top-remote-service-unavailable"), Transient),
    (payload(15, "Remote service error", "isp.remote-connection-error"), Transient),
    (
        payload(520, "Remote service error", "isp.remote-service-timeout", "API调用服务超时"),
        Transient,
    ),
    (
        payload(11, "Insufficient ISV Permissions", "isv.permission-api-package-limit"),
        PermissionDenied,
    ),
    (payload(12, "Insufficient User Permissions"), PermissionDenied),
    (payload(13, "Insufficient Partner Permissions"), PermissionDenied),
    (payload(15, "Remote service error", "isv.trade-not-exist", "交易订单不存在"), TradeNotFound),
    (
        payload(
            15,
            "Remote service error",
            "isv.trade-service-rejection",
            "超时请求过多，请将查询时间间隔缩短,3分钟后再查询！",
        ),
        TradeServiceRejected,
    ),
    (payload(21, "Missing Method"), ConfigurationError),
    (payload(22, "Invalid Method"), ConfigurationError),
    (payload(29, "Invalid App Key"), ConfigurationError),
    (payload(31, "Invalid Timestamp"), ConfigurationError),
    (payload(34, "Unsupported Version"), ConfigurationError),
    (payload(9, "Http Action Not Allowed"), ConfigurationError),
    (payload(999, "Something new"), TopError),
]


@pytest.mark.parametrize(("response", "expected"), TABLE)
def test_mapping(response, expected):
    error = error_from_response(response, "taobao.trades.sold.get")
    assert type(error) is expected
    body = response["error_response"]
    assert error.code == body["code"]
    assert error.msg == body["msg"]
    assert error.sub_code == body.get("sub_code")
    assert error.sub_msg == body.get("sub_msg")
    assert error.request_id == "109wcmcgllsj1"
    assert error.method == "taobao.trades.sold.get"


@pytest.mark.parametrize(
    ("sub_code", "sub_msg", "scope", "seconds"),
    [
        (
            "accesscontrol.limited-by-app-access-count",
            "This ban will last for 31062 more seconds",
            "app",
            31062,
        ),
        (
            "accesscontrol.limited-by-api-access-count",
            "This ban will last for 1 more seconds",
            "api",
            1,
        ),
        (
            "accesscontrol.limited-by-app-api-access-count",
            "This ban will last for 2 more seconds",
            "app-api",
            2,
        ),
        (
            "isv.access-limited-by-app-api-access-count",
            "This ban will last for 5 more seconds",
            "app-api",
            5,
        ),
    ],
)
def test_rate_limited_scope_and_ban(sub_code, sub_msg, scope, seconds):
    error = error_from_response(
        payload(7, "App Call Limited", sub_code, sub_msg), "taobao.time.get"
    )
    assert isinstance(error, RateLimited)
    assert (error.scope, error.ban_seconds) == (scope, seconds)


def test_rate_limited_without_a_ban_message_waits_a_second():
    error = error_from_response(payload(7, "App Call Limited"), "taobao.time.get")
    assert isinstance(error, RateLimited)
    assert (error.scope, error.ban_seconds) == ("app", 1)


def test_unwrapped_payload_and_string_code():
    error = error_from_response({"code": "27", "msg": "Invalid session"}, "m")
    assert isinstance(error, SessionInvalid) and error.code == 27


def test_trade_not_found_is_an_invalid_request():
    assert issubclass(TradeNotFound, InvalidRequest)


def test_str_names_method_and_codes():
    error = error_from_response(payload(15, "Remote service error", "isp.x", "busy"), "m.get")
    assert (
        str(error)
        == "m.get: code=15 Remote service error sub_code=isp.x (busy) request_id=109wcmcgllsj1"
    )
