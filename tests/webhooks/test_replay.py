"""Replays to one endpoint: the changes of a time range (or of some tids) re-emitted, marked
as replays, to that endpoint only, as a job with its progress; through the API with the three
actors, the console and the command. Delivered to a real receiver on loopback."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from shops.audit.models import AuditEntry
from tests.support.api import client_for
from tests.support.records import wire_trade
from tools.bench.receiver import Behaviour, Receiver
from trades.api.key_models import ApiKey
from trades.api.keys import create_api_key
from trades.feed.models import FeedCommit
from trades.sync.write import write_trades
from trades.webhooks.endpoints import create_endpoint
from trades.webhooks.models import WebhookDelivery, WebhookEvent, WebhookReplay
from trades.webhooks.replay import InvalidReplay, advance, request_replay, run_replay
from trades.webhooks.runner import sweep_webhooks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def other(tenant_a):
    """A second endpoint of tenant A, which a replay to the first must not touch."""
    with Receiver(Behaviour()) as running:
        yield create_endpoint(tenant_a, running.url, ["trade.created"], "BI").endpoint, running


@pytest.fixture
def owner(tenant_a):
    return client_for(create_api_key(tenant_a, "ERP", ApiKey.Scope.READ_WRITE).token)


@pytest.fixture
def reader(tenant_a):
    return client_for(create_api_key(tenant_a, "BI", ApiKey.Scope.READ).token)


@pytest.fixture
def outsider(tenant_b):
    return client_for(create_api_key(tenant_b, "B", ApiKey.Scope.READ_WRITE).token)


def _stamp(tenant, at) -> None:
    """Move the tenant's commits so far to ``at`` (what a past day's commits look like)."""
    FeedCommit.objects.filter(tenant=tenant).update(committed_at=at)


@pytest.fixture
def history(shop_a, endpoint, other, receiver):
    """Three trades committed "yesterday", two "today"; every live event delivered."""
    yesterday = timezone.now() - timedelta(days=1)
    for tid in (1, 2, 3):
        write_trades(shop_a, [wire_trade(tid=tid)])
    _stamp(shop_a.tenant, yesterday)
    for tid in (4, 5):
        write_trades(shop_a, [wire_trade(tid=tid)])
    sweep_webhooks(requeue=False)
    receiver.received.clear()
    other[1].received.clear()
    return yesterday


def _replayed(receiver) -> list[dict]:
    return [json.loads(r.body) for r in receiver.received]


def test_a_range_is_replayed_to_one_endpoint_marked_as_replays(history, endpoint, other, receiver):
    before = {d.pk: d.state for d in WebhookDelivery.objects.filter(endpoint=other[0])}
    since = history - timedelta(minutes=1)
    replay = request_replay(endpoint, since=since, until=history + timedelta(minutes=1))
    assert replay.changes_total == 3
    assert run_replay(replay.pk, seconds=10)
    sweep_webhooks(requeue=False)

    bodies = _replayed(receiver)
    assert sorted(b["data"]["tid"] for b in bodies if b["type"] == "trade.created") == [1, 2, 3]
    assert {b["replay"]["id"] for b in bodies} == {f"rpl_{replay.pk}"}
    originals = set(WebhookEvent.objects.filter(replay=None).values_list("uuid", flat=True))
    assert not {b["id"] for b in bodies} & {f"evt_{u.hex}" for u in originals}
    # the other endpoint got nothing, and its deliveries were left as they were
    assert other[1].received == []
    after = {d.pk: d.state for d in WebhookDelivery.objects.filter(endpoint=other[0])}
    assert after == before
    replay.refresh_from_db()
    assert replay.state == "succeeded" and replay.changes_done == 3
    assert replay.emitted == len(bodies)


def test_tids_replay_only_their_changes(history, endpoint, receiver):
    replay = request_replay(endpoint, tids=[2, 5, 999])
    run_replay(replay.pk, seconds=10)
    sweep_webhooks(requeue=False)
    tids = {b["data"]["tid"] for b in _replayed(receiver)}
    assert tids == {2, 5}


def test_a_replay_waits_while_the_queue_is_full(history, endpoint, settings):
    settings.WEBHOOKS_REDELIVER_PAGE = 2  # room for two changes' deliveries at a time
    replay = request_replay(endpoint, since=history - timedelta(minutes=1))
    assert not advance(replay.pk)  # a page of 2 emitted, more to come
    assert not advance(replay.pk)  # the page is still pending: held back
    replay.refresh_from_db()
    assert replay.changes_done == 2
    pending = WebhookDelivery.objects.filter(event__replay=replay, state="pending").count()
    assert pending == replay.emitted
    sweep_webhooks(requeue=False)
    while not advance(replay.pk):
        sweep_webhooks(requeue=False)
    replay.refresh_from_db()
    assert replay.changes_done == replay.changes_total == 5


@pytest.mark.parametrize(
    "body,says",
    [
        ({}, "since"),
        ({"since": "tomorrow"}, "not a time"),
        ({"since": "2999-01-01T00:00:00+08:00"}, "future"),
        (
            {"since": "2026-11-11T10:00:00+08:00", "until": "2026-11-11T09:00:00+08:00"},
            "later than since",
        ),
        ({"tids": ["x"]}, "not a trade id"),
        ({"tids": list(range(1, 102))}, "at most 100"),
    ],
)
def test_bad_requests_are_400(owner, endpoint, body, says):
    response = owner.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/replays/", body, "json")
    assert response.status_code == 400, response.content
    assert says in json.dumps(response.json())
    assert not WebhookReplay.objects.exists()


def test_too_many_changes_is_400(history, owner, endpoint, settings):
    settings.WEBHOOKS_REPLAY_MAX_CHANGES = 4
    since = (history - timedelta(minutes=1)).isoformat()
    response = owner.post(
        f"/api/v1/webhook-endpoints/{endpoint.pk}/replays/", {"since": since}, "json"
    )
    assert response.status_code == 400
    assert "WEBHOOKS_REPLAY_MAX_CHANGES" in json.dumps(response.json())


def test_three_actors(history, owner, reader, outsider, endpoint, queued):
    url = f"/api/v1/webhook-endpoints/{endpoint.pk}/replays/"
    body = {"since": (history - timedelta(minutes=1)).isoformat()}
    assert reader.post(url, body, "json").status_code == 403
    assert outsider.post(url, body, "json").status_code == 404
    answer = owner.post(url, body, "json")
    assert answer.status_code == 202
    created = answer.json()
    assert created["state"] == "queued" and created["changes_total"] == 5
    assert ("trades.webhooks.tasks.replay_webhooks_task", (created["id"],)) in queued
    entry = AuditEntry.objects.get(action="webhook.replay")
    assert entry.tenant_id == endpoint.tenant_id and entry.object_id == str(endpoint.pk)
    assert entry.details["replay"] == f"rpl_{created['id']}" and entry.details["changes"] == 5
    # one open replay per endpoint
    assert owner.post(url, body, "json").status_code == 409

    run_replay(created["id"], seconds=10)
    detail = f"/api/v1/webhook-replays/{created['id']}/"
    shown = reader.get(detail).json()
    assert shown["state"] == "succeeded" and shown["changes_done"] == 5
    assert shown["deliveries"]["pending"] == shown["emitted"] > 0
    assert [r["id"] for r in reader.get("/api/v1/webhook-replays/").json()["results"]] == [
        created["id"]
    ]
    assert outsider.get(detail).status_code == 404
    assert outsider.get("/api/v1/webhook-replays/").json()["results"] == []


def test_a_disabled_endpoint_is_refused_and_stops_a_running_replay(history, endpoint):
    replay = request_replay(endpoint, since=history - timedelta(minutes=1))
    endpoint.is_active = False
    endpoint.save()
    assert advance(replay.pk)
    replay.refresh_from_db()
    assert replay.state == "failed" and "disabled" in replay.error
    with pytest.raises(InvalidReplay):
        request_replay(endpoint, since=history - timedelta(minutes=1))


def test_a_stale_replay_is_resumed_by_the_sweep(history, endpoint, queued):
    from trades.webhooks.tasks import sweep_webhooks_task

    replay = request_replay(endpoint, since=history - timedelta(minutes=1))
    queued.clear()  # the task queued at the request is lost
    WebhookReplay.objects.filter(pk=replay.pk).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    sweep_webhooks_task()
    assert ("trades.webhooks.tasks.replay_webhooks_task", (replay.pk,)) in queued


def test_a_replay_queued_twice_runs_once(history, endpoint, settings, queued):
    from trades.webhooks.tasks import replay_webhooks_task

    settings.WEBHOOKS_REDELIVER_PAGE = 2  # held back after the first page
    replay = request_replay(endpoint, since=history - timedelta(minutes=1))
    assert advance(replay.pk, joining=True) is False  # a worker stepped it just now
    queued.clear()
    assert replay_webhooks_task(replay.pk) == "another worker has the replay"
    assert queued == []  # and it did not queue itself again
    WebhookReplay.objects.filter(pk=replay.pk).update(
        touched_at=timezone.now() - timedelta(minutes=1)
    )
    assert advance(replay.pk, joining=True) is False  # that worker is gone: taken over


def test_the_command_replays_in_the_foreground(history, endpoint, receiver, capsys):
    since = (history - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S%z")
    call_command("replay_webhooks", str(endpoint.pk), "--since", since)
    out = capsys.readouterr().out
    assert "succeeded" in out and "5 of 5 changes" in out
    sweep_webhooks(requeue=False)
    assert len(_replayed(receiver)) == WebhookReplay.objects.get().emitted


def test_commit_times_are_stamped_at_commit(shop_a):
    before = timezone.now()
    write_trades(shop_a, [wire_trade(tid=9)])
    with connection.cursor() as cursor:
        cursor.execute("SELECT committed_at FROM trades_feedcommit")
        (stamped,) = cursor.fetchone()
    assert before <= stamped <= timezone.now()


def test_console_owner_asks_viewer_follows_outsider_sees_nothing(
    client, alice, bob, charlie, history, endpoint
):
    client.force_login(alice)
    picked = client.post(
        "/admin/trades/webhookendpoint/",
        {"action": "replay_events", "_selected_action": [endpoint.pk]},
    )
    assert picked.status_code == 302 and f"endpoint={endpoint.pk}" in picked["Location"]
    bad = client.post(
        "/admin/trades/webhookreplay/add/",
        {"endpoint": endpoint.pk, "since": "2999-01-01 00:00"},
    )
    assert bad.status_code == 200 and "future" in bad.content.decode()
    since = (history - timedelta(minutes=1)).isoformat()
    added = client.post(
        "/admin/trades/webhookreplay/add/", {"endpoint": endpoint.pk, "since": since}
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    replay = WebhookReplay.objects.get()
    assert replay.requested_by == "console user alice" and replay.changes_total == 5

    client.force_login(bob)  # a viewer follows it but asks for none
    assert client.get(f"/admin/trades/webhookreplay/{replay.pk}/change/").status_code == 200
    assert client.get("/admin/trades/webhookreplay/add/").status_code == 403
    client.force_login(charlie)
    page = client.get("/admin/trades/webhookreplay/")
    assert page.status_code == 200 and f">{replay.pk}<" not in page.content.decode()
    assert client.get(f"/admin/trades/webhookreplay/{replay.pk}/change/").status_code in (302, 404)
