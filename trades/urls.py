"""Routes of the partner API, mounted at ``/api/v1/``: the API's own and the webhooks' views.

Here, above both, so that the API never imports the webhooks that build on it.
"""

from __future__ import annotations

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from trades.api.audit_views import AuditExportViewSet, AuditViewSet
from trades.api.errors import api_not_found
from trades.api.export_views import RefundExportViewSet, TradeExportViewSet
from trades.api.key_views import ApiKeyViewSet
from trades.api.views import (
    ChangeViewSet,
    JobViewSet,
    PresaleReservationViewSet,
    ReconcileReportViewSet,
    RefundViewSet,
    ShopViewSet,
    SyncRunViewSet,
    TradeViewSet,
)
from trades.webhooks.views import WebhookDeliveryViewSet, WebhookEndpointViewSet

router = SimpleRouter()
router.register("shops", ShopViewSet, basename="shop")
router.register("trades", TradeViewSet, basename="trade")
router.register("refunds", RefundViewSet, basename="refund")
router.register("sync-runs", SyncRunViewSet, basename="syncrun")
router.register("reconcile-reports", ReconcileReportViewSet, basename="reconcilereport")
router.register("changes", ChangeViewSet, basename="change")
router.register("presale-reservations", PresaleReservationViewSet, basename="presalereservation")
router.register("jobs", JobViewSet, basename="job")
router.register("exports/trades", TradeExportViewSet, basename="export-trades")
router.register("exports/refunds", RefundExportViewSet, basename="export-refunds")
router.register("exports/audit", AuditExportViewSet, basename="export-audit")
router.register("audit", AuditViewSet, basename="auditentry")
router.register("api-keys", ApiKeyViewSet, basename="apikey")
router.register("webhook-endpoints", WebhookEndpointViewSet, basename="webhookendpoint")
router.register("webhook-deliveries", WebhookDeliveryViewSet, basename="webhookdelivery")

urlpatterns = [*router.urls, re_path(r"", api_not_found)]
