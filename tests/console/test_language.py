"""The console in Simplified Chinese: LANGUAGE_CODE opens it in Chinese, the switch changes it
for one user, lags read in words, platform statuses carry their Chinese names beside the
codes; the partner API's ``detail`` follows Accept-Language while its codes stay English."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from shops.models import Checkpoint
from tests.support.api import client_for
from tests.support.console import make_trade
from trades.api.key_models import ApiKey
from trades.api.keys import create_api_key

pytestmark = pytest.mark.django_db
DASHBOARD = "/admin/dashboard/"


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def lagging(shop, minutes: int) -> None:
    cursor = timezone.now() - timedelta(minutes=minutes, seconds=20)
    Checkpoint.objects.filter(shop=shop, stream="trades").update(cursor=cursor)


def test_language_code_opens_the_console_in_chinese(client, world, alice, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    lagging(world["a"]["shop"], 45)
    client.force_login(alice)
    html = page(client, DASHBOARD)
    assert "仪表盘" in html and "游标延迟" in html
    assert "落后 45 分钟" in html  # the lag in words, as a problem
    assert "Dashboard" not in html and "cursor lag" not in html
    assert 'lang="zh-hans"' in html


def test_the_switch_changes_the_language_of_one_user(client, world, alice, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    client.force_login(alice)
    assert 'id="language-switch"' in page(client, "/admin/")
    answer = client.post("/i18n/setlang/", {"language": "en", "next": DASHBOARD})
    assert answer.status_code == 302 and answer["Location"] == DASHBOARD
    html = page(client, DASHBOARD)
    assert "Dashboard" in html and "仪表盘" not in html
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": DASHBOARD})
    assert "仪表盘" in page(client, DASHBOARD)


def test_english_stays_the_default(client, world, alice):
    client.force_login(alice)
    html = page(client, DASHBOARD)
    assert "Dashboard" in html and "仪表盘" not in html


def test_a_trade_shows_the_platform_status_names_beside_the_codes(client, world, alice, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    trade = make_trade(world["a"]["shop"], 4100, status="WAIT_BUYER_CONFIRM_GOODS")
    client.force_login(alice)
    listed = page(client, "/admin/trades/trade/")
    assert "卖家已发货，等待买家确认收货" in listed and "WAIT_BUYER_CONFIRM_GOODS" in listed
    assert "创建时间 (+08:00)" in listed  # the column names the zone of its times
    assert "等待买家付款 (WAIT_BUYER_PAY)" in listed  # the status filter's choices
    detail = page(client, f"/admin/trades/trade/{trade.pk}/change/")
    assert "卖家已发货，等待买家确认收货" in detail and "子订单" in detail


def test_a_count_reads_in_wan_in_chinese_and_grouped_in_english(settings):
    from django.utils import translation

    from shops.templatetags.console import counted

    with translation.override("zh-hans"):
        assert counted(123456) == '<span title="123,456">12.35万</span>'
        assert counted(9999) == "9,999"
    with translation.override("en"):
        assert counted(123456) == "123,456"


# --- the partner API ------------------------------------------------------------------------
def detail(client: APIClient, language: str | None) -> dict:
    headers = {"HTTP_ACCEPT_LANGUAGE": language} if language else {}
    response = client.get("/api/v1/trades/", {"limit": "many"}, **headers)
    assert response.status_code == 400
    return response.json()


@pytest.fixture
def owner_client(tenant_a, alice) -> APIClient:
    issued = create_api_key(tenant_a, "ERP", ApiKey.Scope.READ_WRITE, created_by=alice)
    return client_for(issued.token)


def test_api_detail_follows_accept_language_and_codes_stay(owner_client, settings):
    settings.LANGUAGE_CODE = "zh-hans"  # the console's default does not reach partners
    english = detail(owner_client, None)
    assert english["detail"] == "The request has invalid fields or query parameters."
    chinese = detail(owner_client, "zh-CN,zh;q=0.9,en;q=0.8")
    assert chinese["detail"] == "请求中有无效的字段或查询参数。"
    assert chinese["code"] == english["code"] == "invalid"
    assert set(chinese["errors"]) == set(english["errors"]) == {"limit"}
    assert detail(owner_client, "en-US,en;q=0.9")["detail"] == english["detail"]
    assert detail(owner_client, "fr-FR")["detail"] == english["detail"]


def test_api_authentication_detail_in_chinese(db):
    answer = APIClient().get(
        "/api/v1/trades/",
        HTTP_AUTHORIZATION="Bearer osk_nope_nope",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert answer.status_code == 401
    assert answer.json()["detail"] == "API 密钥未知、已过期或已吊销。"
    assert answer.json()["code"] == "authentication_failed"


def test_the_openapi_document_reads_in_either_language(client):
    english = client.get("/api/schema/", {"format": "json"}).json()
    chinese = client.get("/api/schema/", {"format": "json", "lang": "zh-hans"}).json()
    assert english["paths"].keys() == chinese["paths"].keys()  # the same API
    trades = "/api/v1/trades/"
    assert english["paths"][trades]["get"]["summary"] == "List trades"
    assert chinese["paths"][trades]["get"]["summary"] == "列出订单"
    assert "分页返回" in chinese["paths"][trades]["get"]["description"]
    assert chinese["paths"][trades]["get"]["tags"] == english["paths"][trades]["get"]["tags"]
    assert "[简体中文](?lang=zh-hans)" in english["info"]["description"]  # the docs' switch
    assert chinese["info"]["description"].startswith("按 API 密钥读取")
    # the whole document switches: serializer fields' help texts and the webhook events too
    en_lines, zh_lines = (
        doc["components"]["schemas"]["Trade"]["properties"]["lines"] for doc in (english, chinese)
    )
    assert (en_lines["description"], zh_lines["description"]) == ("The sub-orders.", "子订单。")
    en_event, zh_event = (doc["webhooks"]["trade.created"]["post"] for doc in (english, chinese))
    assert en_event["summary"] == "A trade was stored for the first time"
    assert zh_event["summary"] == "首次存储了一笔订单"
    assert zh_event["description"].startswith("来自任一渠道（轮询、TMC、JDP、对账）")
    assert zh_event["parameters"][0]["description"] == "事件的 id（`evt_…`）：请据此去重。"
    en_explicit = client.get("/api/schema/", {"format": "json", "lang": "en"}).json()
    assert en_explicit["components"]["schemas"] == english["components"]["schemas"]
    assert en_explicit["webhooks"] == english["webhooks"]
    docs = client.get("/api/docs/", {"lang": "zh-hans"}).content.decode()
    assert r'url: "/api/schema/?lang\u003Dzh\u002Dhans"' in docs  # loads the Chinese document
