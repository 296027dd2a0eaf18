"""Throwaway tenants, apps and shops wired to a sandbox, removed after the benchmark."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from shops.actions import ensure_checkpoints
from shops.models import SYNCED_STREAMS, Checkpoint, Shop, Tenant, TopApp
from trades.feed.models import ChangeEvent, FeedCommit
from trades.logistics.models import Parcel
from trades.models import Refund, Trade, TradeLine


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
        """Delete what the benchmark made; the large tables by plain DELETE, not row by row."""
        TradeLine.objects.filter(trade__tenant=self.tenant)._raw_delete("default")
        Parcel.objects.filter(tenant=self.tenant).delete()  # with their traces; a few
        for model in (ChangeEvent, FeedCommit, Trade, Refund):
            model.objects.filter(tenant=self.tenant)._raw_delete("default")
        self.tenant.delete()
        self.app.delete()
