"""ordersync's WSGI application, with one static path for the benchmark's floor.

``GET /_bench/static`` answers 200 from gunicorn's worker without entering Django: what
gunicorn, loopback HTTP and the load generator cost per request on this machine. Every other
path is ordersync itself. Used only by ``bench api`` (``tools/bench/api.py``).
"""

from __future__ import annotations

from ordersync.wsgi import application as ordersync_application

STATIC_PATH = "/_bench/static"
BODY = b'{"results": []}'


def application(environ, start_response):
    if environ.get("PATH_INFO") == STATIC_PATH:
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]
        start_response("200 OK", headers)
        return [BODY]
    return ordersync_application(environ, start_response)
