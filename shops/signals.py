"""Signals of shop state changes, for the apps that build on shops (imports point
trades -> shops, so shops announces and trades listens)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that marked the shop, once per transition; kwargs: shop, reason.
shop_needs_reauth = Signal()
