"""What the demo sets up, once: the sandbox's sellers and market, tenants, users, shops."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django_q.models import OrmQ

from shops.actions import onboard_shop, queue_job
from shops.jobs import JOB_TASKS
from shops.models import Checkpoint, Membership, Shop, Tenant, TopApp

APP_KEY, APP_SECRET = "demo-app", "demo-app-secret"
HISTORY_DAYS = 90
# The app's calls per minute, in the sandbox and in our database alike. The budget sets the
# backfills' pace (one day a call, ~180 calls a shop, ~730 for the four): ~45 s at 1,200,
# ~15 s at 3,000.
APP_CALLS_PER_MINUTE = 3000
TENANTS = [
    ("Acme Apparel", "acme", [("acme-flagship", 1200, 6.0), ("acme-outlet", 400, 2.0)]),
    (
        "Blue Ocean Foods",
        "blue-ocean",
        [("blueocean-tmall", 800, 4.0), ("blueocean-mini", 150, 1.0)],
    ),
]
LIGHT_FAULTS = {"isp_rate": 0.01, "http_500_rate": 0.005, "lag_seconds": 20, "drift_rate": 0.05}


@dataclass
class Credentials:
    admin_password: str
    tenant_admin_password: str
    api_key: str

    @classmethod
    def load_or_create(
        cls, path: Path, make_api_key: Callable[[], str]
    ) -> tuple[Credentials, bool]:
        if path.exists():
            return cls(**json.loads(path.read_text())), False
        creds = cls(secrets.token_urlsafe(9), secrets.token_urlsafe(9), make_api_key())
        path.write_text(json.dumps(creds.__dict__))
        path.chmod(0o600)
        return creds, True


class SandboxControl:
    def __init__(self, url: str) -> None:
        self.url = url

    def set_app(self) -> None:
        """The demo's app and its budget (again on a restored world, saved with an older
        budget)."""
        self.post(
            "apps",
            {
                "app_key": APP_KEY,
                "app_secret": APP_SECRET,
                "calls_per_minute": APP_CALLS_PER_MINUTE,
            },
        )

    def post(self, path: str, body: dict) -> dict:
        response = requests.post(f"{self.url}/_sandbox/{path}", json=body, timeout=300)
        response.raise_for_status()
        return response.json()

    def has_seller(self, nick: str) -> bool:
        response = requests.get(f"{self.url}/_sandbox/oracle/trades?nick={nick}", timeout=60)
        return response.status_code == 200


def build_sandbox(control: SandboxControl) -> dict[str, dict]:
    """Sellers with 90 days of history and a live market (first run; later runs restore the
    sandbox's snapshot). Returns each seller's user id and session."""
    sellers = {}
    for _, _, shops in TENANTS:
        for nick, history, per_minute in shops:
            sellers[nick] = control.post(
                "sellers",
                {
                    "app_key": APP_KEY,
                    "nick": nick,
                    "history_trades": history,
                    "history_days": HISTORY_DAYS,
                },
            )
            control.post(
                "market",
                {
                    "nick": nick,
                    "trades_per_minute": per_minute,
                    "changes_per_minute": per_minute * 2,
                    "refunds_per_minute": per_minute / 6,
                },
            )
    control.post("faults", LIGHT_FAULTS)
    return sellers


@transaction.atomic
def build_service(gateway_url: str, sellers: dict[str, dict]) -> list[Shop]:
    """The app, tenants and shops in our database (idempotent)."""
    base = gateway_url.rsplit("/router/rest", 1)[0]
    app, _ = TopApp.objects.update_or_create(
        app_key=APP_KEY,
        defaults={
            "name": "Demo app",
            "app_secret": APP_SECRET,
            "gateway_url": gateway_url,
            "authorize_url": f"{base}/authorize",
            "token_url": f"{base}/token",
            "calls_per_minute": APP_CALLS_PER_MINUTE,
        },
    )
    shops = []
    for name, slug, tenant_shops in TENANTS:
        tenant, _ = Tenant.objects.get_or_create(slug=slug, defaults={"name": name})
        for nick, _, _ in tenant_shops:
            existing = Shop.objects.filter(app=app, seller_nick=nick).first()
            if existing is not None and nick not in sellers:
                shops.append(existing)
                continue
            seller = sellers[nick]
            shop, _ = onboard_shop(
                tenant=tenant,
                app=app,
                seller_nick=nick,
                seller_id=seller["user_id"],
                session_key=seller["session"],
            )
            shops.append(shop)
    return shops


def resume_backfills(shops: list[Shop]) -> None:
    """A backfill cut short by a previous stop is queued again; it resumes where it was.

    Not when its task still waits in the queue: a second task would start a new backfill
    once the first has finished. Call it before the workers start."""
    release_dead_claims()
    waiting = queued_shops(JOB_TASKS["backfill"])
    for shop in shops:
        progress = Checkpoint.objects.get(shop=shop, stream="backfill").progress
        unfinished = progress.get("until") and not progress.get("finished_at")
        if unfinished and shop.pk not in waiting:
            queue_job(shop, "backfill")


def release_dead_claims() -> None:
    """Tasks claimed by workers the last stop had to kill go back to the queue now, not
    after ``Q_RETRY``. Only before the demo's own workers start: no other cluster uses the
    demo's data, so every claim left is a dead one."""
    OrmQ.objects.filter(lock__gt=timezone.now()).update(lock=timezone.now())


def queued_shops(func: str) -> set[int]:
    """The shops that a queued task of ``func`` is for (the ORM broker's queue)."""
    return {task.args()[0] for task in OrmQ.objects.all() if task.func() == func}


def ensure_users(creds: Credentials) -> None:
    User = get_user_model()
    admin, created = User.objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True}
    )
    if created:
        admin.set_password(creds.admin_password)
        admin.save()
    tenant_admin, created = User.objects.get_or_create(
        username="acme-admin", defaults={"is_staff": True}
    )
    if created:
        tenant_admin.set_password(creds.tenant_admin_password)
        tenant_admin.save()
    Membership.objects.get_or_create(
        user=tenant_admin,
        tenant=Tenant.objects.get(slug="acme"),
        defaults={"role": Membership.Role.OWNER},
    )


def has_service() -> bool:
    """Whether the database already holds the demo's shops (from an earlier run)."""
    return Shop.objects.filter(app__app_key=APP_KEY).exists()
