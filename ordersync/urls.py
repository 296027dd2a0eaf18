from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from ordersync import observability
from shops.console.dashboard import dashboard_view

urlpatterns = [
    # the bare address opens the console (never a 404 page)
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
    path("admin/dashboard/", admin.site.admin_view(dashboard_view), name="console-dashboard"),
    path("admin/", admin.site.urls),
    path("healthz", observability.healthz, name="healthz"),
    path("metrics", observability.metrics, name="metrics"),
    path("api/v1/", include("trades.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
