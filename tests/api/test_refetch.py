"""``POST shops/{id}/jobs/`` with kind refetch: checked input, a job whose outcome the tenant
reads, for the owner only; the console's box queues the same job."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from tests.support.api import client_for
from trades.api.jobs import record_job_outcome
from trades.api.key_models import ApiKey
from trades.api.keys import create_api_key
from trades.api.models import Job
from trades.tasks import refetch_shop_task

pytestmark = pytest.mark.django_db(transaction=True)
UNKNOWN = "9123456789012345678"


@pytest.fixture
def queued(monkeypatch) -> list:
    calls = []

    def capture(func, *args, **kwargs):
        calls.append((func, args))
        return f"task-{len(calls)}"

    monkeypatch.setattr("shops.jobs.async_task", capture)
    return calls


def test_owner_refetches_tids_and_reads_the_outcome(make_shop, gateway, tenant_a, bob, queued):
    shop = make_shop("api-refetch", history_trades=5, history_days=1)
    owner = client_for(create_api_key(tenant_a, "ERP", ApiKey.Scope.READ_WRITE).token)
    reader = client_for(create_api_key(tenant_a, "BI", ApiKey.Scope.READ, created_by=bob).token)
    tid = min(gateway.oracle_trades("api-refetch"))
    jobs = f"/api/v1/shops/{shop.pk}/jobs/"
    body = {"kind": "refetch", "tids": [str(tid), UNKNOWN]}
    assert reader.post(jobs, body, "json").status_code == 403
    answer = owner.post(jobs, body, "json")
    assert answer.status_code == 202, answer.content
    (func, args) = queued[0]
    assert func == "trades.tasks.refetch_shop_task"
    assert args == (shop.pk, {"tids": [tid, int(UNKNOWN)]})

    class Task:  # what django-q2 hands its result hook
        id, success = "task-1", True
        result = refetch_shop_task(*args)
        started = stopped = timezone.now()

    record_job_outcome(Task)
    job = reader.get(answer.json()["url"]).json()
    assert job["state"] == "succeeded" and job["kind"] == "refetch"
    outcome = job["outcome"]
    assert (outcome["fetched"], outcome["written"]) == (1, 1)
    assert outcome["not_found_str"] == [UNKNOWN] and outcome["failed"] == []


def test_outsider_cannot_refetch_or_read(shop_a, tenant_b, charlie, queued):
    outsider = client_for(create_api_key(tenant_b, "B", ApiKey.Scope.READ_WRITE).token)
    body = {"kind": "refetch", "tids": [1]}
    assert outsider.post(f"/api/v1/shops/{shop_a.pk}/jobs/", body, "json").status_code == 404
    job = Job.objects.create(tenant=shop_a.tenant, shop=shop_a, kind="refetch", task_id="t")
    assert outsider.get(f"/api/v1/jobs/{job.pk}/").status_code == 404
    assert queued == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "refetch", "tids": list(range(1, 102))}, "at most 100"),
        ({"kind": "refetch", "tids": [{"a": 1}]}, "is not a trade id"),
        (
            {
                "kind": "refetch",
                "modified_after": "2026-11-11T10:00:00+08:00",
                "modified_before": "2026-11-11T09:00:00+08:00",
            },
            "must be after",
        ),  # fmt: skip
        (
            {
                "kind": "refetch",
                "modified_after": "2026-11-09T10:00:00+08:00",
                "modified_before": "2026-11-11T09:00:00+08:00",
            },
            "at most 1 day",
        ),  # fmt: skip
        ({"kind": "refetch"}, "either tids"),
        ({"kind": "sync", "tids": [1]}, "only for kind refetch"),
    ],
)
def test_bad_input_is_a_readable_400(owner_client, shop_a, queued, body, message):
    answer = owner_client.post(f"/api/v1/shops/{shop_a.pk}/jobs/", body, "json")
    assert answer.status_code == 400, answer.content
    assert message in answer.content.decode()
    assert queued == [] and Job.objects.count() == 0


def test_the_console_box_queues_a_refetch_for_members_who_may_change(
    client, alice, bob, charlie, shop_a
):
    changelist = "/admin/shops/shop/"
    data = {"action": "refetch", "_selected_action": [shop_a.pk], "apply": "Re-pull"}
    client.force_login(alice)
    page = client.get(f"{changelist}{shop_a.pk}/change/").content.decode()
    assert 'id="refetch-box"' in page
    refused = client.post(changelist, {**data, "tids": "12 x"})
    assert refused.status_code == 200 and "is not a trade id" in refused.content.decode()
    for user in (bob, charlie):  # a viewer, and another tenant's owner
        client.force_login(user)
        client.post(changelist, {**data, "tids": "12, 13"})
    assert not OrmQ.objects.exists()
    client.force_login(alice)
    assert client.post(changelist, {**data, "tids": "12, 13"}).status_code == 302
    (task,) = [q.task for q in OrmQ.objects.all()]
    assert task["func"] == "trades.tasks.refetch_shop_task"
    assert tuple(task["args"]) == (shop_a.pk, {"tids": [12, 13]})
