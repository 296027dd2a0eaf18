"""A published Python TOP SDK (the official SDK's ``RestApi`` with its signing, epoch-millisecond
timestamps, ``partner_id`` and empty values signed as bare names), pointed at the sandbox's host
and port and used unchanged."""

from __future__ import annotations

import time

import pytest
import taobao_open
from taobao_open.api.base import RestApi, TopException
from taobao_open.api.rest.TimeGetRequest import TimeGetRequest

from ordersync.sandbox.clock import fmt
from ordersync.sandbox.market import DEFAULT_TYPES
from tests.support.sandbox_http import APP_KEY, APP_SECRET, oracle


class TradesSoldIncrementGetRequest(RestApi):
    """Shaped like the SDK's generated request classes: attributes are the parameters."""

    def __init__(self, domain: str, port: int) -> None:
        RestApi.__init__(self, domain, port)
        self.fields = None
        self.start_modified = None
        self.end_modified = None
        self.page_no = None
        self.page_size = None
        self.use_has_next = None
        self.buyer_nick = None

    def getapiname(self) -> str:
        return "taobao.trades.sold.increment.get"


@pytest.fixture
def sdk_app(sb, app):
    taobao_open.setDefaultAppInfo(APP_KEY, APP_SECRET)
    return sb


def test_time_get_through_the_sdk(sdk_app):
    answer = TimeGetRequest(sdk_app.host, sdk_app.port).getResponse()
    assert len(answer["time_get_response"]["time"]) == 19


def test_the_sdk_pages_increments_and_signs_an_empty_value(sdk_app, seller):
    request = TradesSoldIncrementGetRequest(sdk_app.host, sdk_app.port)
    now = time.time()
    request.fields = "tid,status,modified"
    request.start_modified = fmt(now - 86400 + 60)
    request.end_modified = fmt(now)
    request.page_size = 100
    request.use_has_next = "true"
    request.buyer_nick = ""  # sent, and signed as a bare name
    tids = set()
    for page in range(1, 20):
        request.page_no = page
        inner = request.getResponse(seller["session"])["trades_sold_increment_get_response"]
        tids |= {t["tid"] for t in inner.get("trades", {}).get("trade", [])}
        if not inner["has_next"]:
            break
    # every trade of the default types changed in the window, and nothing else
    truth = {
        t["tid"]
        for t in oracle(sdk_app)
        if t["modified"] >= fmt(now - 86400 + 60) and t["type"] in DEFAULT_TYPES
    }
    assert tids and tids == truth


def test_the_sdk_raises_the_gateway_errors(sdk_app, seller):
    taobao_open.setDefaultAppInfo(APP_KEY, "not-the-secret")
    with pytest.raises(TopException) as bad_sign:
        TimeGetRequest(sdk_app.host, sdk_app.port).getResponse()
    assert bad_sign.value.errorcode == 25
    taobao_open.setDefaultAppInfo(APP_KEY, APP_SECRET)
    request = TradesSoldIncrementGetRequest(sdk_app.host, sdk_app.port)
    request.fields = "tid"
    with pytest.raises(TopException) as missing:
        request.getResponse("not-a-session")
    assert missing.value.errorcode in (26, 27)
