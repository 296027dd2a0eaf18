"""The client against the sandbox gateway on loopback: every error class, retries, hangs,
malformed bodies, the platform clock and OAuth."""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from ordersync.taobao import api, oauth
from ordersync.taobao.client import AppCredentials, TopClient
from ordersync.taobao.errors import (
    ConfigurationError,
    InvalidRequest,
    RateLimited,
    SessionInvalid,
    TradeNotFound,
    TradeServiceRejected,
    Transient,
)
from ordersync.taobao.retry import RetryPolicy
from ordersync.taobao.store import client_for
from ordersync.taobao.types import PLATFORM_TZ, parse_money, parse_time
from tests.support.taobao import control

FIELDS = "tid,tid_str,status,payment,created,modified,orders"
ONCE = RetryPolicy(max_attempts=1)


def fast_retries(attempts: int = 10) -> RetryPolicy:
    return RetryPolicy(max_attempts=attempts, base=0.01, cap=0.05, rng=random.Random(3))


def now() -> datetime:
    return datetime.now(PLATFORM_TZ)


@pytest.mark.parametrize("sign_method", ["md5", "hmac", "hmac-sha256"])
def test_the_sandbox_accepts_every_sign_method(make_app, sign_method):
    client = TopClient(make_app(sign_method=sign_method))
    assert abs(api.time_get(client) - now()) < timedelta(seconds=5)


def test_trades_pages_and_details(seller):
    app, shop = seller
    client = TopClient(app, policy=fast_retries())
    page = api.trades_sold_get(
        client,
        shop["session"],
        start_created=now() - timedelta(days=6),
        end_created=now() + timedelta(minutes=1),
        fields=FIELDS,
        page_size=10,
    )
    assert len(page.items) == 10 and page.has_next is True and page.total_results is None
    trade = page.items[0]
    assert isinstance(trade["tid"], int) and str(trade["tid"]) == trade["tid_str"]
    assert parse_money(trade["payment"]) is not None and parse_time(trade["created"]).tzinfo
    full = api.trade_fullinfo_get(client, shop["session"], trade["tid"], FIELDS)
    assert full["tid"] == trade["tid"] and isinstance(full["orders"], list)
    window = api.trades_sold_increment_get(
        client,
        shop["session"],
        start_modified=now() - timedelta(hours=23),
        end_modified=now(),
        fields="tid,modified",
        page_size=5,
    )
    assert window.total_results is not None and window.has_next is None


def test_simplify_envelope_from_the_sandbox(seller):
    app, shop = seller
    client = TopClient(app, simplify=True)
    page = api.trades_sold_get(
        client,
        shop["session"],
        start_created=now() - timedelta(days=6),
        end_created=now() + timedelta(minutes=1),
        fields=FIELDS,
        page_size=3,
    )
    assert len(page.items) == 3 and all(isinstance(t["orders"], list) for t in page.items)


def test_error_classes(seller, faults):
    app, shop = seller
    session = shop["session"]
    client = TopClient(app, policy=ONCE)
    wrong_secret = TopClient(AppCredentials(app.app_key, "nope", app.gateway_url), policy=ONCE)
    with pytest.raises(ConfigurationError) as caught:
        api.time_get(wrong_secret)
    assert caught.value.code == 25
    with pytest.raises(SessionInvalid):
        api.trade_fullinfo_get(client, "not-a-session", 1, FIELDS)
    with pytest.raises(TradeNotFound):
        api.trade_fullinfo_get(client, session, 1, FIELDS)
    with pytest.raises(InvalidRequest):  # a window of more than one day
        api.trades_sold_increment_get(
            client,
            session,
            start_modified=now() - timedelta(days=2),
            end_modified=now(),
            fields=FIELDS,
        )
    faults(rejection_rate=1.0)
    with pytest.raises(TradeServiceRejected):
        api.trades_sold_get(
            client,
            session,
            start_created=now() - timedelta(days=1),
            end_created=now(),
            fields=FIELDS,
        )
    faults(reset=True, isp_rate=1.0)
    with pytest.raises(Transient) as caught:
        api.time_get(client)
    assert caught.value.sub_code.startswith("isp.")


def test_rate_limited_by_the_app_budget(make_app, faults):
    faults(ban_seconds=1)
    client = TopClient(make_app(calls_per_minute=2), policy=ONCE)
    api.time_get(client)
    api.time_get(client)
    with pytest.raises(RateLimited) as caught:
        api.time_get(client)
    assert caught.value.scope == "app" and caught.value.ban_seconds == 1


def test_retry_succeeds_after_isp_errors(make_app, faults, sandbox):
    before = control(sandbox, "stats")["errors_injected"].get("isp", 0)
    faults(isp_rate=0.6)
    client = TopClient(make_app(), policy=fast_retries(30))
    for _ in range(5):
        api.time_get(client)
    injected = control(sandbox, "stats")["errors_injected"]["isp"] - before
    assert injected >= 1 and client.calls == 5 + injected


def test_a_hang_becomes_transient_within_the_read_timeout(make_app, faults):
    faults(hang_rate=1.0, hang_seconds=3)
    client = TopClient(make_app(), policy=ONCE, read_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(Transient, match="timeout"):
        api.time_get(client)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("fault", [{"malformed_rate": 1.0}, {"http_500_rate": 1.0}])
def test_malformed_bodies_are_transient(make_app, faults, fault):
    faults(**fault)
    client = TopClient(make_app(), policy=ONCE)
    for _ in range(4):  # truncated JSON and HTML pages are drawn at random
        with pytest.raises(Transient) as caught:
            api.time_get(client)
        assert caught.value.excerpt


@pytest.mark.parametrize("skew", [600, -600])
def test_platform_clock_follows_a_skewed_sandbox(make_app, faults, sandbox, state_db, skew):
    faults(skew_seconds=skew)
    client = client_for(make_app())
    sent = time.time()
    platform = control(sandbox, "time")["epoch_ms"] / 1000
    received = time.time()
    ours = client.clock.now().timestamp() - (time.time() - (sent + received) / 2)
    assert abs(ours - platform) < 1.0
    # and the client signs with platform time, so the skewed gateway accepts its calls
    api.time_get(client)


def test_oauth_round_trip_with_a_rotating_refresh_token(make_app, sandbox):
    app = make_app()
    nick = f"oauth-{app.app_key}"
    control(sandbox, "oauth", {"nick": nick})
    redirect = "http://127.0.0.1:9/callback"
    answer = requests.get(
        f"{sandbox.url}/authorize",
        params={
            "response_type": "code",
            "client_id": app.app_key,
            "redirect_uri": redirect,
            "state": "xyz",
        },
        allow_redirects=False,
    )
    query = dict(parse_qsl(urlsplit(answer.headers["Location"]).query))
    assert query["state"] == "xyz"
    first = oauth.exchange_code(app, query["code"], redirect)
    assert first.taobao_user_nick == nick and first.expires_in > 0
    assert first.access_token not in repr(first) and first.refresh_token not in repr(first)
    client = TopClient(app)
    api.trades_sold_get(
        client,
        first.access_token,
        start_created=now() - timedelta(days=1),
        end_created=now(),
        fields="tid",
    )
    second = oauth.refresh(app, first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    with pytest.raises(SessionInvalid):  # the old refresh token stopped working
        oauth.refresh(app, first.refresh_token)
    third = oauth.refresh(app, second.refresh_token)
    api.trades_sold_get(
        client,
        third.access_token,
        start_created=now() - timedelta(days=1),
        end_created=now(),
        fields="tid",
    )
    with pytest.raises(SessionInvalid):  # a used code cannot be exchanged twice
        oauth.exchange_code(app, query["code"], redirect)
    with pytest.raises(ConfigurationError):
        oauth.refresh(
            AppCredentials(app.app_key, "bad", app.gateway_url, token_url=app.token_url),
            third.refresh_token,
        )


def test_no_secret_or_session_in_any_log_line(seller, faults, caplog):
    app, shop = seller
    faults(isp_rate=0.5)
    caplog.set_level(logging.DEBUG)
    client = TopClient(app, policy=fast_retries(30))
    for _ in range(3):
        api.time_get(client)
        api.trades_sold_get(
            client,
            shop["session"],
            start_created=now() - timedelta(days=1),
            end_created=now(),
            fields="tid",
        )
    assert "urllib3" in caplog.text and "/router/rest" in caplog.text
    assert shop["session"] not in caplog.text and app.app_secret not in caplog.text


def list_page(client: TopClient, session: str, use_has_next: bool = False) -> api.Page:
    return api.trades_sold_get(
        client,
        session,
        start_created=now() - timedelta(days=6),
        end_created=now() + timedelta(minutes=1),
        fields=FIELDS,
        page_size=5,
        use_has_next=use_has_next,
    )


@pytest.mark.parametrize("part", ["root", "count", "list"])
def test_an_incomplete_success_body_is_transient_never_an_empty_page(seller, faults, part):
    app, shop = seller
    faults(incomplete_rate=1.0, incomplete_parts=[part])
    client = TopClient(app, policy=ONCE)
    with pytest.raises(Transient, match="success body without|response has no"):
        list_page(client, shop["session"])
    with pytest.raises(Transient):  # has_next is required too when asked for
        list_page(client, shop["session"], use_has_next=True)
    faults(incomplete_rate=0.0)
    assert len(list_page(client, shop["session"]).items) == 5


def test_an_incomplete_body_is_retried_like_any_broken_answer(seller, faults):
    app, shop = seller
    faults(incomplete_rate=0.5, incomplete_parts=["count", "list"])
    client = TopClient(app, policy=fast_retries(20))
    for _ in range(6):
        page = list_page(client, shop["session"])
        assert len(page.items) == 5 and page.total_results >= 5
    assert client.calls > 6


def test_an_incomplete_detail_body_is_retried_like_any_broken_answer(seller, faults):
    app, shop = seller
    tids = [t["tid"] for t in list_page(TopClient(app, policy=ONCE), shop["session"]).items]
    faults(incomplete_rate=0.5, incomplete_parts=["item"])
    client = TopClient(app, policy=fast_retries(20))
    for tid in tids:
        assert api.trade_fullinfo_get(client, shop["session"], tid, FIELDS)["tid"] == tid
    assert client.calls > len(tids)


def test_an_unknown_app_key_is_a_configuration_error(make_app, sandbox):
    app = make_app()
    unknown = AppCredentials("00000000", "x", gateway_url=app.gateway_url)
    with pytest.raises(ConfigurationError) as caught:
        api.time_get(TopClient(unknown, policy=ONCE))
    assert (caught.value.code, caught.value.sub_code) == (29, "isv.appkey-not-exists")


def test_a_missing_argument_is_an_invalid_request_that_names_it(seller):
    app, shop = seller
    client = TopClient(app, policy=fast_retries())
    with pytest.raises(InvalidRequest, match="Missing required arguments:fields") as caught:
        client.call("taobao.trade.fullinfo.get", {"tid": 1}, session=shop["session"])
    assert caught.value.code == 40 and client.calls == 1  # not retried


def test_gzip_answers_are_decoded_transparently(seller):
    app, shop = seller
    client = TopClient(app, policy=ONCE)
    answers = []
    client.http.hooks["response"].append(lambda r, *a, **kw: answers.append(r.headers))
    assert len(list_page(client, shop["session"]).items) == 5
    assert answers[-1]["Content-Encoding"] == "gzip"


def test_a_wrong_http_verb_is_a_configuration_error(make_app):
    app = make_app()
    client = TopClient(app, policy=ONCE)
    client.http.post = client.http.put  # a client that sends the wrong verb
    with pytest.raises(ConfigurationError) as caught:
        api.time_get(client)
    assert caught.value.code == 9
