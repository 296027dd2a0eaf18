"""gunicorn settings: ``gunicorn -c ordersync/gunicorn.conf.py ordersync.wsgi``."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
# keep the whole request line out of the access log only if it could carry secrets; ours do not
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
