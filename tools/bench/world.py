"""Throwaway tenants, apps and shops wired to a sandbox, removed after the benchmark."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from django.db import models, transaction

from shops.actions import ensure_checkpoints
from shops.models import SYNCED_STREAMS, Checkpoint, Shop, Tenant, TopApp


class BenchWorld:
    def __init__(self, sandbox, calls_per_minute: int = 100000) -> None:
        self.sandbox = sandbox
        self.tag = f"bench-{int(time.time() * 1000)}"
        sandbox.control(
            "apps", {"app_key": self.tag, "app_secret": "bench-secret", "calls_per_minute": 0}
        )
        self.tenant = Tenant.objects.create(name=self.tag, slug=self.tag)
        self.app = TopApp.objects.create(
            name=self.tag,
            app_key=self.tag,
            app_secret="bench-secret",
            gateway_url=sandbox.gateway_url,
            calls_per_minute=calls_per_minute,
        )

    def shop(self, nick: str, history_trades: int = 0, history_days: float = 30) -> Shop:
        seller = self.sandbox.control(
            "sellers",
            {
                "app_key": self.tag,
                "nick": f"{self.tag}-{nick}",
                "history_trades": history_trades,
                "history_days": history_days,
            },
            timeout=600 + history_trades / 500,  # a million trades take minutes to generate
        )
        shop = Shop.objects.create(
            tenant=self.tenant,
            app=self.app,
            seller_nick=seller["nick"],
            seller_id=seller["user_id"],
            session_key=seller["session"],
        )
        ensure_checkpoints(shop)
        return shop

    def shops(self, nicks: list[str]) -> list[Shop]:
        """Many idle sellers at once: the sandbox asked from a few threads, the shops and
        their checkpoints written in bulk (10,000 one by one took longer than the run)."""
        sellers = self._distinct_sellers(nicks)
        made = Shop.objects.bulk_create(
            [
                Shop(
                    tenant=self.tenant,
                    app=self.app,
                    seller_nick=seller["nick"],
                    seller_id=seller["user_id"],
                    session_key=seller["session"],
                )
                for seller in sellers
            ],
            batch_size=1000,
        )
        Checkpoint.objects.bulk_create(
            [Checkpoint(shop=shop, stream=stream) for shop in made for stream in SYNCED_STREAMS],
            batch_size=1000,
        )
        return made

    def _distinct_sellers(self, nicks: list[str]) -> list[dict]:
        """One sandbox seller per nick; a seller whose random id another one drew already is
        asked again under a longer nick (an app has one shop per seller id)."""
        body = {"app_key": self.tag, "history_trades": 0}
        sellers: dict[int, dict] = {}
        while nicks:
            with ThreadPoolExecutor(4) as pool:
                drawn = list(
                    pool.map(
                        lambda nick: self.sandbox.control(
                            "sellers", {**body, "nick": f"{self.tag}-{nick}"}
                        ),
                        nicks,
                    )
                )
            again = []
            for nick, seller in zip(nicks, drawn, strict=True):
                if seller["user_id"] in sellers:
                    again.append(nick + "x")
                else:
                    sellers[seller["user_id"]] = seller
            nicks = again
        return list(sellers.values())

    def remove(self) -> None:
        """Delete what the benchmark made, by set-based SQL only: Django's ``delete()``
        loads every row it cascades to (a 100,000-trade backfill's removal took 1.6 GB)."""
        with transaction.atomic():
            purge(Tenant.objects.filter(pk=self.tenant.pk))
            purge(TopApp.objects.filter(pk=self.app.pk))


def purge(rows: models.QuerySet) -> None:
    """Delete ``rows`` and, first, every row that refers to them, table by table, each with
    one ``DELETE … WHERE … IN (SELECT …)``: no row is loaded into this process. A reference
    that is set to NULL on delete is set to NULL the same way."""
    _purge(rows, (rows.model,))


def _purge(rows: models.QuerySet, path: tuple[type[models.Model], ...]) -> None:
    for relation in rows.model._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete):
            continue
        if not (relation.one_to_many or relation.one_to_one):
            continue
        child = relation.related_model
        if not child._meta.managed or child._meta.proxy:
            continue  # a view's rows go with the tables it reads
        referring = child._base_manager.filter(**{f"{relation.field.name}__in": rows})
        if relation.on_delete is models.SET_NULL:
            referring.update(**{relation.field.name: None})
        elif child not in path:  # a cycle's rows go with the first table of it
            _purge(referring, (*path, child))
    rows._raw_delete(rows.db)
