"""``manage.py jdp_enrol SHOP RDS [--history-days N]``: enrol a shop in JDP."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ordersync.taobao.errors import TopError
from shops.models import Shop
from trades.jdp.enrol import enrol_shop, unenrol_shop
from trades.jdp.models import JdpRds, JdpShop


class Command(BaseCommand):
    help = "Enrol a shop in Jushita data push (taobao.jushita.jdp.user.add)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("shop", type=int, help="the shop's pk")
        parser.add_argument("rds", help="the RDS name (created, with JDP_DATABASE_URL, if new)")
        parser.add_argument("--history-days", type=int, default=0, help="0-90 days pushed too")
        parser.add_argument("--delete", action="store_true", help="end the push instead")

    def handle(self, *args, shop: int, rds: str, history_days: int, delete: bool, **options):
        if not 0 <= history_days <= 90:
            raise CommandError("--history-days must be 0-90")
        try:
            target = Shop.objects.select_related("app").get(pk=shop)
        except Shop.DoesNotExist:
            raise CommandError(f"no shop {shop}") from None
        if delete:
            self._delete(target)
            return
        store, _ = JdpRds.objects.get_or_create(name=rds)
        try:
            state = enrol_shop(target, store, history_days)
        except TopError as error:
            raise CommandError(f"the platform refused: {error}") from None
        self.stdout.write(
            f"shop {target.pk} enrolled in JDP into {rds} ({state.history_days} days)"
        )

    def _delete(self, shop: Shop) -> None:
        state = JdpShop.objects.filter(shop=shop).select_related("shop__app").first()
        if state is None:
            raise CommandError(f"shop {shop.pk} is not enrolled in JDP")
        try:
            unenrol_shop(state)
        except TopError as error:
            raise CommandError(f"the platform refused: {error}") from None
        self.stdout.write(f"shop {shop.pk}: JDP push ended")
