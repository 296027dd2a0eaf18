from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from ordersync import observability

urlpatterns = [
    # the bare address opens the console (never a 404 page)
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
    # the apps' URLs by name: the project package imports none of them
    path("admin/dashboard/", include("shops.console.urls")),
    path("admin/", admin.site.urls),
    # the console's language switch posts here (Django's set_language view)
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", observability.healthz, name="healthz"),
    path("metrics", observability.metrics, name="metrics"),
    path("api/v1/", include("trades.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
