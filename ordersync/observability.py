"""``/healthz`` and ``/metrics`` (Prometheus text format).

Every figure is read from PostgreSQL at scrape time, so it covers all web and worker
processes on every machine; each query is bounded (recent rows, per-shop rows, estimates).
"""

from __future__ import annotations

import hmac
import logging
import platform
from collections.abc import Callable
from datetime import timedelta
from importlib import metadata

import django
import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from django_q.models import OrmQ

from ordersync.models import Heartbeat
from ordersync.taobao.models import ApiBudget, ApiCallStat
from ordersync.taobao.stats import BUCKETS
from ordersync.tasks import CLUSTER

logger = logging.getLogger(__name__)

HEARTBEAT_STALE = timedelta(minutes=3)


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _check_broker() -> str:
    if settings.REDIS_URL:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()
        return "ok (redis)"
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
        """One sample; a boolean value is written 1 or 0, a boolean label "true" or "false"."""
        value = int(value) if isinstance(value, bool) else value
        if labels:
            inner = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            self.lines.append(f"{name}{{{inner}}} {value}")
        else:
            self.lines.append(f"{name} {value}")

    def render(self) -> str:
        return "\n".join(self.lines) + "\n"


def _label(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
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


def _build_info(out: Exposition) -> None:
    out.family("ordersync_build_info", "gauge", "1, labelled with the versions running")
    out.sample(
        "ordersync_build_info",
        1,
        version=metadata.version("ordersync"),
        python=platform.python_version(),
        django=django.get_version(),
    )


Collector = Callable[[Exposition], None]

# The platform's figures; each app adds its own when it is ready (shops, then trades), so the
# project package never imports the apps it serves.
COLLECTORS: list[Collector] = [_build_info, _top_calls, _limiter]


def register(*collectors: Collector) -> None:
    """Add figures to ``/metrics``, in order, once each."""
    COLLECTORS.extend(c for c in collectors if c not in COLLECTORS)


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
