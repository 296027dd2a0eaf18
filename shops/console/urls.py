"""The console's own pages beside the admin's: the dashboard."""

from django.contrib import admin
from django.urls import path

from shops.console.dashboard import dashboard_view

urlpatterns = [
    path("", admin.site.admin_view(dashboard_view), name="console-dashboard"),
]
