"""Deliveries to a real HTTP receiver on loopback: signatures, attempts, retries, disabling,
redirects, timeouts and the address guard."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.support.records import wire_trade
from tools.bench.receiver import Receiver
from trades.sync.write import write_trades
from trades.webhooks import retry
from trades.webhooks.endpoints import rotate_secret
from trades.webhooks.guard import AddressRefused, allowed, check_url, is_public
from trades.webhooks.models import WebhookAttempt, WebhookCounter, WebhookDelivery
from trades.webhooks.runner import deliver_batch, sweep_webhooks
from trades.webhooks.signing import InvalidSignature, verify_signature

pytestmark = pytest.mark.django_db


def only_delivery() -> WebhookDelivery:
    (delivery,) = WebhookDelivery.objects.all()
    return delivery


def test_a_change_arrives_signed_with_a_small_payload(shop_a, issued, receiver):
    receiver.behaviour.status = 200
    write_trades(shop_a, [wire_trade(tid=77)])
    (result,) = deliver_batch()
    assert result.ok
    (got,) = receiver.received
    verify_signature([issued.secret], got.headers, got.body)
    body = json.loads(got.body)
    assert got.headers["webhook-id"] == body["id"] and body["id"].startswith("evt_")
    assert body["type"] == "trade.created" and body["tenant"] == "tenant-a"
    assert body["data"]["tid"] == 77 and body["data"]["status"] == "WAIT_BUYER_PAY"
    # one zone in one record: platform time, as the API writes it
    assert body["data"]["modified"].endswith("+08:00") and body["created"].endswith("+08:00")
    assert body["links"] == {"changes": "/api/v1/changes/", "trade": "/api/v1/trades/77/"}
    assert got.headers["content-type"] == "application/json"

    delivery = only_delivery()
    assert delivery.state == "succeeded" and delivery.delivered_at and delivery.attempts == 1
    (attempt,) = WebhookAttempt.objects.all()
    assert (attempt.outcome, attempt.status_code, attempt.response_body) == ("success", 200, "ok")
    assert attempt.duration_ms >= 0 and attempt.number == 1
    assert WebhookCounter.objects.get(outcome="success").count == 1
    assert deliver_batch() == []  # nothing left due


def test_a_failure_waits_on_the_ladder_and_is_logged(shop_a, endpoint, receiver):
    receiver.behaviour.status = 500
    write_trades(shop_a, [wire_trade()])
    before = timezone.now()
    (result,) = deliver_batch()
    assert result.outcome == "http_error" and result.error == "HTTP 500"
    delivery = only_delivery()
    assert delivery.state == "pending" and delivery.last_status_code == 500
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert 5 * 0.8 - 1 <= wait <= 5 * 1.2 + 1
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None and endpoint.is_active

    receiver.behaviour.status = 200  # it recovers; the retry, once due, succeeds
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    (result,) = deliver_batch()
    assert result.ok and only_delivery().attempts == 2
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None
    assert list(WebhookAttempt.objects.order_by("id").values_list("number", "outcome")) == [
        (1, "http_error"),
        (2, "success"),
    ]


def test_short_retries_are_requeued_with_their_due_time(shop_a, endpoint, receiver, queued):
    receiver.behaviour.status = 503
    write_trades(shop_a, [wire_trade()])
    deliver_batch()
    ((func, (ids, not_before)),) = queued
    assert func == "trades.webhooks.tasks.deliver_webhooks_task"
    assert ids == [only_delivery().pk]
    due = only_delivery().next_attempt_at.timestamp()
    assert abs(not_before - due) < 1


def test_retry_ladder_spans_about_three_days_with_bounded_jitter(settings):
    ladder = settings.WEBHOOKS_RETRY_SECONDS
    assert 2.5 * 86400 <= retry.ladder_seconds() <= 3.5 * 86400
    for attempt, step in enumerate(ladder, start=1):
        assert retry.should_retry(attempt)
        assert retry.sleep_seconds(attempt, rand=lambda: 0.0) == pytest.approx(step * 0.8)
        assert retry.sleep_seconds(attempt, rand=lambda: 0.999999) == pytest.approx(step * 1.2)
        assert step * 0.8 <= retry.sleep_seconds(attempt) <= step * 1.2
    assert ladder == sorted(ladder)  # waits never shrink
    assert not retry.should_retry(len(ladder) + 1)


def test_the_last_failed_attempt_gives_up(shop_a, endpoint, receiver, settings):
    settings.WEBHOOKS_RETRY_SECONDS = [0.01, 0.01]
    receiver.behaviour.status = 500
    write_trades(shop_a, [wire_trade()])
    for _ in range(3):
        WebhookDelivery.objects.update(next_attempt_at=timezone.now())
        deliver_batch()
    delivery = only_delivery()
    assert delivery.state == "failed" and delivery.attempts == 3
    assert len(receiver.received) == 3


def test_410_disables_the_endpoint_at_once(shop_a, endpoint, receiver):
    receiver.behaviour.status = 410
    write_trades(shop_a, [wire_trade(tid=1), wire_trade(tid=2)])
    deliver_batch()
    endpoint.refresh_from_db()
    assert not endpoint.is_active and "410 Gone" in endpoint.disabled_reason
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"failed"}
    write_trades(shop_a, [wire_trade(tid=3)])  # a disabled endpoint gets no new deliveries
    assert WebhookDelivery.objects.count() == 2


def test_failures_over_many_hours_disable_with_a_reason(shop_a, endpoint, receiver, settings):
    receiver.behaviour.status = 502
    write_trades(shop_a, [wire_trade(tid=1)])
    deliver_batch()
    endpoint.refresh_from_db()
    assert endpoint.is_active  # failing, but not for long
    hours = settings.WEBHOOKS_DISABLE_AFTER_HOURS
    endpoint.failing_since = timezone.now() - timedelta(hours=hours, minutes=1)
    endpoint.save()
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    deliver_batch()
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert endpoint.disabled_reason.startswith("every delivery failed since")
    assert "HTTP 502" in endpoint.disabled_reason
    # a disabled endpoint's pending deliveries wait instead of being sent
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    assert deliver_batch() == [] and len(receiver.received) == 2


def test_redirects_are_not_followed(shop_a, endpoint, receiver):
    with Receiver() as elsewhere:
        receiver.behaviour.redirect_to = elsewhere.url
        write_trades(shop_a, [wire_trade()])
        (result,) = deliver_batch()
        assert elsewhere.received == []
    assert result.outcome == "redirect" and result.status_code == 307
    assert f"redirect to {elsewhere.url} not followed" in result.error
    assert only_delivery().state == "pending"


def test_a_hanging_receiver_times_out(shop_a, endpoint, receiver, settings):
    settings.WEBHOOKS_TIMEOUT = 0.3
    receiver.behaviour.hang_rate, receiver.behaviour.hang_seconds = 1.0, 2.0
    write_trades(shop_a, [wire_trade()])
    (result,) = deliver_batch()
    assert result.outcome == "timeout" and result.duration_ms < 1500
    assert only_delivery().state == "pending"


def test_private_addresses_are_refused_unless_allowed(shop_a, endpoint, receiver, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    write_trades(shop_a, [wire_trade()])
    (result,) = deliver_batch()
    assert result.outcome == "refused" and "127.0.0.1" not in result.error
    assert receiver.received == []


def test_the_demo_setting_lets_loopback_through_and_nothing_else(
    shop_a, endpoint, receiver, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    write_trades(shop_a, [wire_trade()])
    (result,) = deliver_batch()
    assert result.outcome == "success", result.error
    assert len(receiver.received) == 1
    check_url("http://localhost:8080/hook")
    for private in ("http://10.1.2.3/hook", "http://169.254.169.254/", "http://[fc00::1]/"):
        with pytest.raises(AddressRefused):
            check_url(private)
    assert [allowed(a) for a in ("127.0.0.2", "::1", "::ffff:127.0.0.1", "192.168.1.1")] == [
        True,
        True,
        True,
        False,
    ]
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    assert not allowed("127.0.0.1")


@pytest.mark.parametrize(
    "address,public",
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("224.0.0.1", False),
    ],
)
def test_which_addresses_are_public(address, public):
    assert is_public(address) is public


def test_every_resolved_address_is_checked(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(AddressRefused, match="non-public"):
        check_url("http://localhost:8080/hook")
    with pytest.raises(AddressRefused, match="must be an http"):
        check_url("ftp://example.com/")


def test_the_socket_itself_is_checked(settings, receiver):
    """Even if a name resolved to a public address when checked, the connection made is
    checked again (DNS rebinding)."""
    from trades.webhooks.guard import guarded_session

    settings.WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(AddressRefused, match="connected to non-public 127.0.0.1"):
        guarded_session().post(receiver.url, data=b"{}", timeout=1)
    assert receiver.received == []


def test_a_rotated_secret_signs_alongside_the_old_one(shop_a, issued, receiver):
    rotated = rotate_secret(issued.endpoint, overlap=timedelta(hours=1))
    write_trades(shop_a, [wire_trade(tid=1)])
    deliver_batch()
    got = receiver.received[-1]
    assert got.headers["webhook-signature"].count("v1=") == 2
    verify_signature([issued.secret], got.headers, got.body)
    verify_signature([rotated.secret], got.headers, got.body)

    # once the overlap is over, only the new secret signs
    issued.endpoint.secrets.exclude(secret="").filter(expires_at__isnull=False).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    write_trades(shop_a, [wire_trade(tid=2)])
    deliver_batch()
    got = receiver.received[-1]
    assert got.headers["webhook-signature"].count("v1=") == 1
    verify_signature([rotated.secret], got.headers, got.body)
    with pytest.raises(InvalidSignature):
        verify_signature([issued.secret], got.headers, got.body)


def test_a_claim_whose_worker_died_is_delivered_after_its_lease(shop_a, endpoint, receiver):
    from trades.webhooks import delivery

    write_trades(shop_a, [wire_trade()])
    (job,) = delivery.claim(10)  # a worker claimed it, then died before sending
    assert deliver_batch() == []  # still leased: nobody else sends it
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())  # the lease ran out
    (result,) = deliver_batch()
    assert result.ok and result.job.attempt == 2 and job.attempt == 1


def test_sweep_delivers_everything_due(shop_a, endpoint, receiver):
    write_trades(shop_a, [wire_trade(tid=n) for n in range(1, 26)])
    tally = sweep_webhooks(seconds=30)
    assert tally.succeeded == 25 and len(receiver.delivered()) == 25
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"succeeded"}
