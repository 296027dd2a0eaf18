# ordersync: one image for the web server, the workers and the optional sandbox.
FROM python:3.11-slim

# Production by default: SECRET_KEY and FIELD_ENCRYPTION_KEYS must then come from the
# environment, and the development fallbacks (a key file in the data dir) are off.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DEBUG=False \
    ORDERSYNC_DATA_DIR=/var/lib/ordersync

WORKDIR /app
COPY pyproject.toml README.md ./
COPY ordersync ordersync
COPY shops shops
COPY trades trades
COPY tools tools
COPY templates templates
# the console in Chinese: the compiled catalogue (django.mo) is committed, no gettext needed
COPY locale locale
COPY manage.py ./
RUN pip install . \
    && useradd --system --home-dir /var/lib/ordersync --create-home ordersync
# collectstatic only needs settings that load. Build-only values keep it away from everything
# else: a DATABASE_URL (never connected to) so no embedded PostgreSQL starts inside the image,
# and a throwaway SECRET_KEY and encryption key that live only for this command, so no key is
# written into the image.
RUN DATABASE_URL=postgres://build@build.invalid/build \
    SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    FIELD_ENCRYPTION_KEYS="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    python manage.py collectstatic --noinput \
    && chown -R ordersync /var/lib/ordersync

USER ordersync
EXPOSE 8000
CMD ["gunicorn", "-c", "ordersync/gunicorn.conf.py", "ordersync.wsgi"]
