"""``/healthz`` and ``/metrics`` (Prometheus text format).

Every figure is read from PostgreSQL at scrape time, so it covers all web and worker
processes on every machine; each query is bounded (recent rows, per-shop rows, estimates).
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, QuerySet, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from ordersync.models import Heartbeat
from ordersync.taobao.models import ApiBudget, ApiCallStat
from ordersync.taobao.stats import BUCKETS
from ordersync.tasks import CLUSTER
from shops.models import Checkpoint, Shop, SyncRun
from trades.feed.models import ChangeEvent
from trades.models import ReconcileReport
from trades.webhooks.models import WebhookCounter, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

HEARTBEAT_STALE = timedelta(minutes=3)


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _check_broker() -> str:
    if settings.REDIS_URL:
        import redis

        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()
        return "ok (redis)"
    from django_q.models import OrmQ

    OrmQ.objects.exists()
    return "ok (postgresql)"


class Unhealthy(RuntimeError):
    """A failed check whose message is ours and safe to show."""


def _check_cluster() -> str:
    beat = Heartbeat.objects.filter(name=CLUSTER).first()
    if beat is None:
        raise Unhealthy("no cluster heartbeat yet: is qcluster running?")
    age = timezone.now() - beat.beat_at
    if age > HEARTBEAT_STALE:
        raise Unhealthy(f"last cluster heartbeat {int(age.total_seconds())}s ago")
    return f"ok ({int(age.total_seconds())}s ago)"


def run_checks() -> tuple[bool, dict[str, str]]:
    """Whether the database, the broker and a recent cluster heartbeat are all fine."""
    checks, healthy = {}, True
    for name, check in (
        ("database", _check_database),
        ("broker", _check_broker),
        ("cluster", _check_cluster),
    ):
        try:
            checks[name] = check()
        except Unhealthy as exc:
            checks[name] = f"failing: {exc}"
            healthy = False
        except Exception as exc:
            # a driver's message names hosts and users: it goes to the log, not to the probe
            logger.warning("health check %s failed", name, exc_info=True)
            checks[name] = f"failing: {type(exc).__name__} (details in the log)"
            healthy = False
    return healthy, checks


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every check passes, 503 naming the failing one otherwise."""
    healthy, checks = run_checks()
    return JsonResponse({"healthy": healthy, "checks": checks}, status=200 if healthy else 503)


class Exposition:
    """Collects metric families and renders the Prometheus text format."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]

    def sample(self, name: str, value: float, **labels: object) -> None:
        if labels:
            inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            self.lines.append(f"{name}{{{inner}}} {value}")
        else:
            self.lines.append(f"{name} {value}")

    def render(self) -> str:
        return "\n".join(self.lines) + "\n"


def _escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _top_calls(out: Exposition) -> None:
    stats = list(ApiCallStat.objects.all())
    out.family("ordersync_top_calls_total", "counter", "TOP API calls by method, outcome, code")
    for s in stats:
        out.sample(
            "ordersync_top_calls_total",
            s.calls,
            app_key=s.app_key,
            method=s.method,
            outcome=s.outcome,
            code=s.code,
        )
    out.family("ordersync_top_call_duration_seconds", "histogram", "TOP call latency")
    by_method: dict[str, list] = {}
    for s in stats:
        total = by_method.setdefault(s.method, [0, 0.0, [0] * len(BUCKETS)])
        total[0] += s.calls
        total[1] += s.duration_sum
        for index, count in enumerate(s.buckets[: len(BUCKETS)]):
            total[2][index] += count
    for method, (calls, seconds, buckets) in sorted(by_method.items()):
        name = "ordersync_top_call_duration_seconds"
        for bound, count in zip(BUCKETS, buckets, strict=True):
            out.sample(f"{name}_bucket", count, method=method, le=bound)
        out.sample(f"{name}_bucket", calls, method=method, le="+Inf")
        out.sample(f"{name}_sum", round(seconds, 6), method=method)
        out.sample(f"{name}_count", calls, method=method)


def _limiter(out: Exposition) -> None:
    budgets = list(ApiBudget.objects.all())
    out.family("ordersync_limiter_waits_total", "counter", "API calls that waited for budget")
    for b in budgets:
        out.sample("ordersync_limiter_waits_total", b.state.get("waits", 0), app_key=b.app_key)
    out.family("ordersync_limiter_ban_seconds_total", "counter", "seconds of code-7 bans")
    for b in budgets:
        out.sample(
            "ordersync_limiter_ban_seconds_total", b.state.get("ban_seconds", 0), app_key=b.app_key
        )


def _shop_labels(shop: Shop) -> dict[str, object]:
    """The shop id makes each series unique: seller nicks repeat across apps and tenants."""
    return {"shop_id": shop.pk, "shop": shop.seller_nick}


def _shops(out: Exposition) -> None:
    now = timezone.now()
    out.family("ordersync_cursor_lag_seconds", "gauge", "platform time not yet synced, per shop")
    checkpoints = Checkpoint.objects.filter(
        shop__status=Shop.Status.ACTIVE, stream__in=["trades", "refunds"], cursor__isnull=False
    ).select_related("shop")
    for c in checkpoints:
        lag = round((now - (c.cursor or now)).total_seconds(), 1)
        out.sample("ordersync_cursor_lag_seconds", lag, **_shop_labels(c.shop), stream=c.stream)
    _late_arrivals(out, checkpoints, now)
    _kept_records(out)
    out.family("ordersync_shops", "gauge", "shops by status and mode")
    for row in Shop.objects.values("status", "degraded").annotate(n=Count("id")):
        out.sample("ordersync_shops", row["n"], status=row["status"], degraded=row["degraded"])


def _kept_records(out: Exposition) -> None:
    """Records a shop's streams could not sync: set aside (the next reconcile repairs them)
    and unresolved (the platform did not return them to the reconcile either)."""
    kept = Checkpoint.objects.filter(
        progress__has_any_keys=["set_aside", "refund_set_aside", "unresolved", "refund_unresolved"]
    ).select_related("shop")
    for state in ("set_aside", "unresolved"):
        name = f"ordersync_{state}_records"
        out.family(name, "gauge", f"records {state.replace('_', ' ')} per shop and stream")
        for c in kept:
            count = c.records_kept(state)
            if count:
                out.sample(name, count, **_shop_labels(c.shop), stream=c.stream)


def _late_arrivals(out: Exposition, checkpoints: QuerySet[Checkpoint], now: datetime) -> None:
    """Per shop stream: the lag measured from late arrivals (decayed) and how many there were
    (docs/lag.md)."""
    out.family(
        "ordersync_measured_lag_seconds",
        "gauge",
        "visibility lag measured from late arrivals, decayed; widens lag and overlap",
    )
    for c in checkpoints:
        value = round(c.measured_lag(now), 1)
        out.sample("ordersync_measured_lag_seconds", value, **_shop_labels(c.shop), stream=c.stream)
    out.family(
        "ordersync_late_arrivals_total",
        "counter",
        "changes first seen behind a window end already passed",
    )
    for c in checkpoints:
        out.sample(
            "ordersync_late_arrivals_total",
            c.late_arrivals,
            **_shop_labels(c.shop),
            stream=c.stream,
        )


def _runs(out: Exposition) -> None:
    since = timezone.now() - timedelta(hours=1)
    recent = SyncRun.objects.filter(started_at__gte=since)
    out.family("ordersync_sync_runs_last_hour", "gauge", "sync runs started in the last hour")
    for row in recent.values("kind", "outcome").annotate(n=Count("id")):
        out.sample(
            "ordersync_sync_runs_last_hour", row["n"], kind=row["kind"], outcome=row["outcome"]
        )
    written = recent.aggregate(n=Sum("trades_written"))["n"] or 0
    out.family("ordersync_trades_written_last_hour", "gauge", "rows written by sync runs")
    out.sample("ordersync_trades_written_last_hour", written)
    missing = ReconcileReport.objects.aggregate(n=Sum("missing_found"))["n"] or 0
    out.family("ordersync_reconcile_missing_found_total", "counter", "trades reconcile found")
    out.sample("ordersync_reconcile_missing_found_total", missing)
    refunds = ReconcileReport.objects.aggregate(n=Sum("refunds_missing_found"))["n"] or 0
    out.family(
        "ordersync_reconcile_refunds_missing_found_total", "counter", "refunds reconcile found"
    )
    out.sample("ordersync_reconcile_refunds_missing_found_total", refunds)


def _feed(out: Exposition) -> None:
    with connection.cursor() as cursor:
        # an estimate: COUNT(*) on the feed would read the whole table at every scrape
        cursor.execute(
            "SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE oid = %s::regclass",
            [ChangeEvent._meta.db_table],
        )
        (rows,) = cursor.fetchone()
    out.family("ordersync_change_feed_rows", "gauge", "rows in the change feed (estimate)")
    out.sample("ordersync_change_feed_rows", rows)


def _webhooks(out: Exposition) -> None:
    out.family(
        "ordersync_webhook_deliveries_total", "counter", "webhook delivery attempts by outcome"
    )
    for outcome, count in WebhookCounter.objects.order_by("outcome").values_list(
        "outcome", "count"
    ):
        out.sample("ordersync_webhook_deliveries_total", count, outcome=outcome)
    # what is waiting: the partial index of the sweep serves this count
    pending = WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING).count()
    out.family("ordersync_webhook_deliveries_pending", "gauge", "deliveries not yet delivered")
    out.sample("ordersync_webhook_deliveries_pending", pending)
    disabled = WebhookEndpoint.objects.filter(is_active=False).count()
    out.family("ordersync_webhook_endpoints_disabled", "gauge", "endpoints disabled")
    out.sample("ordersync_webhook_endpoints_disabled", disabled)


def _tmc(out: Exposition) -> None:
    from trades.tmc.models import TmcShop, TmcStat

    stats = list(TmcStat.objects.order_by("app_key", "name"))
    families = [
        ("messages", "ordersync_tmc_messages_total", "TMC messages by outcome", "outcome"),
        ("fetches", "ordersync_tmc_fetches_total", "fetches TMC messages caused", "kind"),
    ]
    for prefix, name, help_text, label in families:
        out.family(name, "counter", help_text)
        for s in stats:
            group, _, key = s.name.partition(":")
            if group == prefix:
                out.sample(name, int(s.value), app_key=s.app_key, **{label: key})
    for base, help_text in (
        ("confirm_lag_seconds", "TMC publish time to confirm, per message"),
        ("freshness_seconds", "platform modified to committed here, per change TMC wrote"),
    ):
        name = f"ordersync_tmc_{base}"
        out.family(name, "summary", help_text)
        for s in stats:
            group, _, part = s.name.partition(":")
            if group == base:
                out.sample(f"{name}_{part}", round(s.value, 3), app_key=s.app_key)
    out.family(
        "ordersync_tmc_shop_freshness_seconds",
        "gauge",
        "freshness of the last TMC change, per shop",
    )
    rows = TmcShop.objects.filter(freshness_seconds__isnull=False).select_related("shop")
    for row in rows:
        freshness = row.freshness_seconds or 0.0
        out.sample("ordersync_tmc_shop_freshness_seconds", freshness, **_shop_labels(row.shop))


COLLECTORS = [_top_calls, _limiter, _shops, _runs, _feed, _webhooks, _tmc]


def _authorized(request: HttpRequest) -> bool:
    """With METRICS_TOKEN set, the scrape must send ``Authorization: Bearer <token>``."""
    token = settings.METRICS_TOKEN
    if not token:
        return not settings.METRICS_NEED_TOKEN
    sent = request.headers.get("Authorization", "")
    # constant time: the comparison must not tell how much of a guess was right
    return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if settings.METRICS_NEED_TOKEN and not settings.METRICS_TOKEN:
        # every merchant's nick and volume: never open to whoever reaches the port
        return HttpResponse("metrics are off: set METRICS_TOKEN\n", status=404)
    if not _authorized(request):
        response = HttpResponse("metrics need a bearer token\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    out = Exposition()
    for collect in COLLECTORS:
        collect(out)
    return HttpResponse(out.render(), content_type="text/plain; version=0.0.4; charset=utf-8")
