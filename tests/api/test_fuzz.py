"""Bad input is a 4xx, never a 500: every API list's query parameters and cursors, fuzzed.

Property-based (hypothesis): the values mix the shapes that broke parsers before (Infinity,
1e400, NaN, out-of-range dates and integers, NUL bytes) with arbitrary text. A 500 raises in
the test client, so any one fails the test with the input that caused it.
"""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.api import client_for
from tests.support.inputs import NASTY
from tests.support.records import make_trade
from trades.api.filters import ChangeQuery
from trades.api.key_models import ApiKey
from trades.api.keys import create_api_key
from trades.feed.changes import encode_cursor
from trades.urls import router

pytestmark = pytest.mark.django_db

values = st.one_of(st.sampled_from(NASTY), st.text(max_size=30))
JSON_SCALARS = [
    "1e400",
    "-1e400",
    "Infinity",
    "NaN",
    "9" * 40,
    '"9999-12-31T23:59:59-14:00"',
    '"0001-01-01T00:00:00+14:00"',
    '"Infinity"',
    '"2026-11-11T00:00:00"',
    "null",
    "true",
    "1.5",
    "[]",
    "{}",
    '"\\u0000"',
    "9223372036854775807",
    "-9223372036854775808",
]


def b64(raw: str | bytes) -> str:
    raw = raw.encode() if isinstance(raw, str) else raw
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


json_scalar = st.one_of(
    st.sampled_from(JSON_SCALARS),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
keyset_cursors = st.lists(json_scalar, min_size=0, max_size=3).map(
    lambda items: b64("[" + ",".join(items) + "]")
)
feed_numbers = st.one_of(
    st.integers(min_value=-1, max_value=2**70),
    st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, 10**40]),
    st.sampled_from(["Infinity", "1e400", "NaN", "18446744073709551616", "٣", "1_0"]),
)
feed_cursors = st.builds(
    lambda version, first, second: b64(f"{version}:{first}:{second}"),
    st.sampled_from(["1", "2", "3", ""]),
    feed_numbers,
    feed_numbers,
)
cursors = st.one_of(keyset_cursors, feed_cursors, values, st.binary(max_size=40).map(b64))

LISTS = sorted(
    (prefix, viewset)
    for prefix, viewset, _ in router.registry
    if hasattr(viewset, "list") and prefix != "changes"
)


def _params(viewset) -> list[str]:
    return sorted(getattr(viewset, "query_class", ChangeQuery)().fields)


@pytest.fixture
def client(tenant_a, shop_a):
    make_trade(shop_a, 1001, minutes=1)
    make_trade(shop_a, 1002, minutes=2)
    return client_for(create_api_key(tenant_a, "fuzz", ApiKey.Scope.READ_WRITE).token)


def _assert_4xx_or_200(response, where) -> None:
    assert response.status_code in (200, 400, 404), (where, response.status_code)
    if response.status_code == 400:
        assert response.json()["code"] == "invalid", where


FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize(("prefix", "viewset"), LISTS, ids=[p for p, _ in LISTS])
def test_no_query_string_of_a_list_is_a_500(client, prefix, viewset):
    names = _params(viewset)

    @FUZZ
    @given(st.dictionaries(st.sampled_from([*names, "unknown"]), values, max_size=4), cursors)
    def run(query, cursor):
        query = {**query, "cursor": cursor} if "cursor" in names else query
        response = client.get(f"/api/v1/{prefix}/", query)
        _assert_4xx_or_200(response, (prefix, query))

    run()


def test_no_change_feed_cursor_is_a_500(client):
    @FUZZ
    @given(cursors, st.one_of(values, st.integers().map(str)))
    def run(after, limit):
        response = client.get("/api/v1/changes/", {"after": after, "limit": limit})
        _assert_4xx_or_200(response, (after, limit))

    run()


@pytest.mark.parametrize(
    "cursor",
    [
        b64("[1e400]"),
        b64('["Infinity", 5]'),
        b64('["0001-01-01T00:00:00+14:00", 5]'),
        b64('["9999-12-31T23:59:59-14:00", 5]'),
        b64("[NaN, 5]"),
        b64('["2026-11-11T00:00:00", 1e400]'),
    ],
)
def test_keyset_cursors_out_of_range_are_400(client, cursor):
    for prefix in ("trades", "refunds", "shops", "reconcile-reports"):
        response = client.get(f"/api/v1/{prefix}/", {"cursor": cursor})
        assert response.status_code == 400, prefix
        assert "cursor" in response.json()["errors"]


@pytest.mark.parametrize(
    "after",
    [
        encode_cursor(2**64, 1),
        encode_cursor(1, 2**63),
        b64(f"1:{2**64}:0"),
        b64(f"1:{2**63}:0"),
        b64("2:1e400:0"),
    ],
)
def test_change_feed_cursors_past_the_integer_ranges_are_400(client, after):
    response = client.get("/api/v1/changes/", {"after": after})
    assert response.status_code == 400
    assert "after" in response.json()["errors"]


@pytest.mark.parametrize("depth", [40, 2000, 100_000])
def test_deeply_nested_json_bodies_are_400(client, depth):
    body = "[" * depth + "]" * depth
    for path in ("/api/v1/api-keys/", "/api/v1/webhook-endpoints/"):
        response = client.post(path, body, content_type="application/json")
        assert response.status_code == 400, path
        assert response.json()["code"] == "parse_error"


def test_a_nul_byte_in_a_text_filter_is_400(client):
    wheres = (("trades", "status"), ("trades", "buyer_open_uid"), ("refunds", "status"))
    for prefix, param in wheres:
        response = client.get(f"/api/v1/{prefix}/", {param: "WAIT\x00"})
        assert response.status_code == 400, (prefix, param)


def test_dates_at_the_edge_of_time_are_400(client):
    early = (timezone.now() - timedelta(days=1)).isoformat()
    for value in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        response = client.get("/api/v1/trades/", {"modified_after": value})
        assert response.status_code in (200, 400), value
    assert client.get("/api/v1/trades/", {"modified_after": early}).status_code == 200
