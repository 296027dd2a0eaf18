"""The console's sign-in is throttled (ordersync/login.py)."""

from __future__ import annotations

from django.contrib import admin

from ordersync.login import ThrottledLoginForm

admin.site.login_form = ThrottledLoginForm
# "View site" leads to the partner API's documentation (the console is this site)
admin.site.site_url = "/api/docs/"
# the lists get the whole width of a laptop (the index and the breadcrumbs lead everywhere)
admin.site.enable_nav_sidebar = False
