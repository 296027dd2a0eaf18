"""gunicorn settings: ``gunicorn -c ordersync/gunicorn.conf.py ordersync.wsgi``."""

import multiprocessing
import sys

from django.core.exceptions import ImproperlyConfigured

from ordersync.env import env, positive_int, read


def _read_settings() -> dict:
    return {
        "bind": read("GUNICORN_BIND", env.str, default="0.0.0.0:8000"),
        "workers": positive_int("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1),
        "threads": positive_int("GUNICORN_THREADS", 2),
        "timeout": positive_int("GUNICORN_TIMEOUT", 30),
        "accesslog": read("GUNICORN_ACCESS_LOG", env.str, default="-"),
    }


try:
    _settings = _read_settings()
except ImproperlyConfigured as exc:
    # gunicorn prints a traceback for any exception in this file; SystemExit passes through
    sys.stderr.write(f"ordersync: configuration error: {exc}\n")
    sys.exit(2)

bind = _settings["bind"]
workers = _settings["workers"]
threads = _settings["threads"]
timeout = _settings["timeout"]
graceful_timeout = 20
accesslog = _settings["accesslog"]
# method and path only: query strings can carry secrets (the OAuth callback's one-time code)
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
