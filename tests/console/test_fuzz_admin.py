"""Bad input to the console is a 4xx or the admin's "invalid filter" redirect, never a 500:
every changelist's filters, search, ordering and page number, fuzzed (hypothesis)."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qsl

import pytest
from django.contrib import admin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.inputs import NASTY

pytestmark = pytest.mark.django_db

CHANGELISTS = sorted(
    f"/admin/{model._meta.app_label}/{model._meta.model_name}/" for model in admin.site._registry
)
# what every changelist reads besides its own filters
COMMON = ["q", "p", "o", "e", "all", "_facets", "id__exact", "pk", "tenant", "shop"]
values = st.one_of(
    st.sampled_from([*NASTY, "1" * 5000, "99999999999999999999", "2", "-", "0.-1"]),
    st.text(max_size=20),
)


def parameter_names(client, url: str) -> list[str] | None:
    """The parameters the changelist's own filter links use, plus the common ones; ``None``
    when the user may not see this changelist."""
    page = client.get(url)
    if page.status_code == 403:
        return None
    assert page.status_code == 200, url
    links = re.findall(r'href="\?([^"]*)"', page.content.decode())
    names = {name for link in links for name, _ in parse_qsl(unescape(link))}
    return sorted(names | set(COMMON))


@pytest.mark.parametrize("who", ["operator", "alice"])
def test_no_changelist_query_is_a_500(client, world, operator, alice, who):
    """One run over every changelist the user may see (the world is built once per user)."""
    client.force_login(operator if who == "operator" else alice)
    names = {url: parameter_names(client, url) for url in CHANGELISTS}
    visible = sorted(url for url, found in names.items() if found is not None)
    assert len(visible) >= 8, visible

    @settings(
        max_examples=100,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.sampled_from(visible), st.data())
    def run(url, data):
        keys = st.sampled_from(names[url])
        query = data.draw(st.dictionaries(keys, values, min_size=1, max_size=3), label="query")
        response = client.get(url, query)
        assert response.status_code in (200, 302, 400), (url, query, response.status_code)

    run()


@pytest.mark.parametrize(
    "query",
    [
        {"shop": "abc"},
        {"shop": "9" * 30},
        {"shop": "1" * 5000},
        {"tenant": "1 OR 1=1"},
        {"q": "tea\x00"},
        {"status": "WAIT\x00"},
    ],
)
def test_known_bad_filters_are_refused(world, client, operator, alice, query):
    for user in (operator, alice):
        client.force_login(user)
        for url in ("/admin/trades/trade/", "/admin/trades/refund/", "/admin/shops/syncrun/"):
            response = client.get(url, query)
            assert response.status_code in (302, 400), (user, url, query)


def test_a_page_past_any_end_is_no_500(world, client, operator):
    client.force_login(operator)
    for page in ("99999999999999999999", str(10**12), "1" * 5000, "-3"):
        for url in ("/admin/trades/trade/", "/admin/trades/webhookdelivery/"):
            assert client.get(url, {"p": page}).status_code in (200, 302), (url, page)
