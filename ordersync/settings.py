"""Settings for ordersync, read strictly from the environment (see ``.env.example``)."""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from ordersync.env import env, fernet_keys, positive_int, read

BASE_DIR = Path(__file__).resolve().parent.parent
env_file = BASE_DIR / ".env"
if env_file.exists():
    env.read_env(str(env_file))

INSECURE_SECRET_KEY = "insecure-dev-key-do-not-use-in-production"

DEBUG = read("DEBUG", env.bool, default=True)
SECRET_KEY = read("SECRET_KEY", env.str, default=INSECURE_SECRET_KEY)
if not DEBUG and SECRET_KEY == INSECURE_SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=False")
ALLOWED_HOSTS = read("ALLOWED_HOSTS", env.list, default=["localhost", "127.0.0.1", "[::1]"])
ORDERSYNC_DATA_DIR = Path(read("ORDERSYNC_DATA_DIR", env.str, default=str(BASE_DIR / ".data")))
ORDERSYNC_DATA_DIR = ORDERSYNC_DATA_DIR.expanduser().resolve()

# --- database -------------------------------------------------------------------------------
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": read("DATABASE_URL", env.db_url)}
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://…)")
    EMBEDDED_DATABASE = False
else:
    from ordersync.embedded_db import embedded_database_url

    DATABASES = {"default": env.db_url_config(embedded_database_url(ORDERSYNC_DATA_DIR))}
    EMBEDDED_DATABASE = True
DATABASES["default"]["CONN_MAX_AGE"] = read("CONN_MAX_AGE", env.int, default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# --- secrets at rest ------------------------------------------------------------------------
def _dev_encryption_key() -> str:
    """A key kept in the data dir so a development setup needs no configuration."""
    key_file = ORDERSYNC_DATA_DIR / "field-encryption.key"
    if not key_file.exists():
        key_file.write_text(Fernet.generate_key().decode())
        key_file.chmod(0o600)
    return key_file.read_text().strip()


if env.str("FIELD_ENCRYPTION_KEYS", default=""):
    FIELD_ENCRYPTION_KEYS = fernet_keys(
        "FIELD_ENCRYPTION_KEYS", read("FIELD_ENCRYPTION_KEYS", env.list)
    )
elif DEBUG:
    FIELD_ENCRYPTION_KEYS = [_dev_encryption_key()]
else:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be set when DEBUG=False")

# --- apps -----------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_q",
    "ordersync",
    "ordersync.taobao",
    "shops",
    "trades",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "ordersync.urls"
WSGI_APPLICATION = "ordersync.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = read("TIME_ZONE", env.str, default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = ORDERSYNC_DATA_DIR / "static"

# --- TOP client -----------------------------------------------------------------------------
TOP_CONNECT_TIMEOUT = read("TOP_CONNECT_TIMEOUT", env.float, default=5.0)
TOP_READ_TIMEOUT = read("TOP_READ_TIMEOUT", env.float, default=30.0)
TOP_MAX_ATTEMPTS = positive_int("TOP_MAX_ATTEMPTS", 5)
TOP_BACKOFF_CAP = read("TOP_BACKOFF_CAP", env.float, default=30.0)

# --- task queue (django-q2) -----------------------------------------------------------------
REDIS_URL = read("REDIS_URL", env.str, default="")
Q_TIMEOUT = positive_int("Q_TIMEOUT", 600)
Q_RETRY = positive_int("Q_RETRY", 660)
if Q_RETRY <= Q_TIMEOUT:
    raise ImproperlyConfigured(f"Q_RETRY={Q_RETRY} must be larger than Q_TIMEOUT={Q_TIMEOUT}")
Q_CLUSTER = {
    "name": "ordersync",
    "workers": positive_int("Q_WORKERS", 2),
    "timeout": Q_TIMEOUT,
    "retry": Q_RETRY,
    "max_attempts": positive_int("Q_MAX_ATTEMPTS", 3),
    "catch_up": False,
    "save_limit": 1000,
    "label": "Tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": read("LOG_LEVEL", env.str, default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- partner REST API -----------------------------------------------------------------------
INSTALLED_APPS += ["drf_spectacular", "drf_spectacular_sidecar"]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["trades.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["trades.api.auth.HasApiKey"],
    "DEFAULT_THROTTLE_CLASSES": ["trades.api.auth.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "api_key": read("API_KEY_THROTTLE_RATE", env.str, default="1200/min"),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "trades.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ordersync partner API",
    "DESCRIPTION": "Trades, refunds and a gapless change feed of one tenant, by API key.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}
