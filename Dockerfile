# ordersync: one image for the web server, the workers and the optional sandbox.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    ORDERSYNC_DATA_DIR=/var/lib/ordersync

WORKDIR /app
COPY pyproject.toml README.md ./
COPY ordersync ordersync
COPY shops shops
COPY trades trades
COPY templates templates
COPY manage.py ./
RUN pip install . \
    && useradd --system --home-dir /var/lib/ordersync --create-home ordersync \
    && DEBUG=True python manage.py collectstatic --noinput \
    && chown -R ordersync /var/lib/ordersync

USER ordersync
EXPOSE 8000
CMD ["gunicorn", "-c", "ordersync/gunicorn.conf.py", "ordersync.wsgi"]
