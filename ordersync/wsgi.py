"""WSGI entry point: ``gunicorn ordersync.wsgi``."""

import os
import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersync.settings")
# gunicorn's exit code for "the application failed to load": its master stops instead of
# starting new workers that would fail the same way, forever
APP_LOAD_ERROR = 4

try:
    application = get_wsgi_application()
except ImproperlyConfigured as exc:
    # one line naming the variable, as manage.py prints it, rather than a traceback per worker
    sys.stderr.write(f"ordersync: configuration error: {exc}\n")
    sys.exit(APP_LOAD_ERROR)
