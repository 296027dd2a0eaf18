"""The OpenAPI schema, checked against the running API by schemathesis on a small dataset."""

from __future__ import annotations

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.db import transaction
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, settings

from ordersync.wsgi import application
from tests.support.records import make_refund, make_trade
from trades.api.auth import ApiKeyRateThrottle
from trades.api.key_models import ApiKey
from trades.api.keys import create_api_key
from trades.feed.changes import Change, record_changes


@pytest.fixture
def api_token(transactional_db, shop_a, shop_b, monkeypatch) -> str:
    # the API's own data: a small tenant A plus a tenant B it must never show
    monkeypatch.setattr("shops.jobs.async_task", lambda name, *args, **kwargs: "task-1")
    for shop in (shop_a, shop_b):
        for n in range(3):
            trade = make_trade(shop, shop.seller_id * 10 + n, minutes=n)
            make_refund(shop, shop.seller_id * 100 + n, trade.tid, minutes=n)
            with transaction.atomic():
                record_changes(
                    shop, [Change("trade", trade.pk, trade.tid, "S", None, trade.modified)]
                )
    create_api_key(shop_b.tenant, "other", ApiKey.Scope.READ_WRITE)
    return create_api_key(shop_a.tenant, "schemathesis", ApiKey.Scope.READ_WRITE).token


@pytest.fixture
def unthrottled(monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "100000/min"})


# The schema exactly as /api/schema/ serves it. The requests go in-process to the WSGI
# application gunicorn serves (ordersync/wsgi.py): the whole MIDDLEWARE, the /api/ lane
# (ordersync/apilane.py) and the views, in autocommit as in production (``api_token`` asks for
# a transactional database). The explicit phase includes schemathesis's coverage cases, about
# 65 per operation (3,000 requests): through a live server, where each request cost a thread
# and a new database connection, this file took 70 s in one process; in-process, 20 s.
schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = application


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_matches_its_schema(case, api_token, unthrottled):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {api_token}"},
        # Rules a schema cannot state make some schema-valid requests a documented 400: a
        # cursor must come from the API, a range must not end before it starts, an expiry
        # must be in the future.
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )


def test_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    params = {p["name"] for p in schema["paths"]["/api/v1/trades/"]["get"]["parameters"]}
    assert {
        "shop",
        "status",
        "type",
        "created_after",
        "modified_before",
        "buyer_open_uid",
    } <= params
    assert {"cursor", "limit"} <= params
    assert "400" in schema["paths"]["/api/v1/trades/"]["get"]["responses"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    # the page's scripts come from the installed package (no CDN here or at partners)
    bundle = "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert bundle.encode() in docs.content and finders.find(bundle)
