"""Settings for ordersync, read strictly from the environment (see ``.env.example``)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from ordersync.env import (
    boolean,
    check_secret_key,
    env,
    fernet_keys,
    matching,
    non_negative_int,
    positive_int,
    positive_number,
    read,
    time_zone,
)

_RATE_PATTERN = r"[0-9]+/[smhd][a-z]*"  # as ordersync.ratelimit.RATE_PATTERN

BASE_DIR = Path(__file__).resolve().parent.parent
env_file = BASE_DIR / ".env"
if env_file.exists():
    env.read_env(str(env_file))

INSECURE_SECRET_KEY = "insecure-dev-key-do-not-use-in-production"

DEBUG = boolean("DEBUG", default=True)
SECRET_KEY = read("SECRET_KEY", env.str, default=INSECURE_SECRET_KEY)
if not DEBUG:
    if SECRET_KEY == INSECURE_SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=False")
    check_secret_key("SECRET_KEY", SECRET_KEY)
ALLOWED_HOSTS = read("ALLOWED_HOSTS", env.list, default=["localhost", "127.0.0.1", "[::1]"])
ORDERSYNC_DATA_DIR = Path(read("ORDERSYNC_DATA_DIR", env.str, default=str(BASE_DIR / ".data")))
ORDERSYNC_DATA_DIR = ORDERSYNC_DATA_DIR.expanduser().resolve()

# --- database -------------------------------------------------------------------------------
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": read("DATABASE_URL", env.db_url)}
    if DATABASES["default"].get("ENGINE") != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://…)")
    EMBEDDED_DATABASE = False
else:
    from ordersync.embedded_db import embedded_database_url

    DATABASES = {"default": env.db_url_config(embedded_database_url(ORDERSYNC_DATA_DIR))}
    EMBEDDED_DATABASE = True
DATABASES["default"]["CONN_MAX_AGE"] = non_negative_int("CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# --- secrets at rest ------------------------------------------------------------------------
def _dev_encryption_key() -> str:
    """A key kept in the data dir so a development setup needs no configuration."""
    key_file = ORDERSYNC_DATA_DIR / "field-encryption.key"
    if not key_file.exists():
        ORDERSYNC_DATA_DIR.mkdir(parents=True, exist_ok=True)
        # Written aside and linked into place: processes starting together (test workers,
        # the demo's children) all end up reading the one key that won, never half a file.
        draft = key_file.with_name(f"{key_file.name}.{os.getpid()}")
        draft.write_text(Fernet.generate_key().decode())
        draft.chmod(0o600)
        try:
            os.link(draft, key_file)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
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
    # benchmarks and the demo: above the apps, which never import them
    "tools",
]

MIDDLEWARE = [
    # /healthz and /metrics for local probes and scrapers, before any Host header check
    "ordersync.probes.ProbeMiddleware",
    # requests under /api/ go through API_MIDDLEWARE below instead of the rest of this list
    "ordersync.apilane.ApiLaneMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The admin's and the API docs' static files, served by gunicorn itself (no extra server).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # the console's language: the switch's cookie, else LANGUAGE_CODE (ordersync/language.py)
    "ordersync.language.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "ordersync.badinput.RejectNulBytesMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # who acts, for the audit log (an API key names itself when it authenticates)
    "shops.audit.actor.AuditActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# The partner API's stack (ordersync/apilane.py): a key in a header and no cookie, so no
# sessions, CSRF, users, messages or static files; the same security headers, Host check and
# audit actor as the console, and the language of Accept-Language.
API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "ordersync.language.ApiLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "shops.audit.actor.AuditActorMiddleware",
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
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Console sign-ins per username and per client address (ordersync/login.py): every attempt
# counts; a successful one clears its username's count.
ADMIN_LOGIN_THROTTLE_RATE = matching(
    "ADMIN_LOGIN_THROTTLE_RATE", "20/h", _RATE_PATTERN, "attempts/period, e.g. 20/h"
)

# --- HTTPS (production defaults with DEBUG=False; see docs/operations.md) ----------------------
# Cookies only over HTTPS, never readable by scripts; every plain-HTTP request redirected.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = boolean("SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = CSRF_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = boolean("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = non_negative_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = boolean("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = boolean("SECURE_HSTS_PRELOAD", default=False)
# Behind a proxy that terminates TLS: the header it sets and the value meaning HTTPS, e.g.
# "X-Forwarded-Proto: https". Only when the proxy always sets (or strips) that header.
_proxy_ssl = matching(
    "SECURE_PROXY_SSL_HEADER",
    "",
    r"[A-Za-z0-9-]+: *[!-~]+|",
    "Header-Name: value, e.g. X-Forwarded-Proto: https",
)
if _proxy_ssl:
    _header, _value = (part.strip() for part in _proxy_ssl.split(":", 1))
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _header.upper().replace("-", "_"), _value)
# Origins (scheme://host[:port]) whose HTTPS forms may post to the console, e.g. when a proxy
# serves it under another name than the Host the browser sends.
CSRF_TRUSTED_ORIGINS = read("CSRF_TRUSTED_ORIGINS", env.list, default=[])
for _origin in CSRF_TRUSTED_ORIGINS:
    if not re.fullmatch(r"https?://[^/\s]+", _origin):
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS={_origin!r}: each must be scheme://host, e.g. "
            "https://ordersync.example.com"
        )

# The console's and the API's languages; LANGUAGE_CODE is the console's until a user picks
# another with the switch (the demo runs in zh-hans). Catalogue: locale/ (CONTRIBUTING.md).
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LANGUAGE_CODE = matching("LANGUAGE_CODE", "en", r"zh-hans|en|en-us", "zh-hans or en")
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "ordersync_language"
TIME_ZONE = time_zone("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
# the console writes times ISO-like with their zone (ordersync/formats/en/formats.py)
FORMAT_MODULE_PATH = ["ordersync.formats"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = ORDERSYNC_DATA_DIR / "static"
# In development static files are found in the installed apps; production runs collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
if WHITENOISE_USE_FINDERS:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # empty until collectstatic; keeps it quiet

# --- TOP client -----------------------------------------------------------------------------
TOP_CONNECT_TIMEOUT = positive_number("TOP_CONNECT_TIMEOUT", 5.0)
TOP_READ_TIMEOUT = positive_number("TOP_READ_TIMEOUT", 30.0)
TOP_MAX_ATTEMPTS = positive_int("TOP_MAX_ATTEMPTS", 5)
TOP_BACKOFF_CAP = positive_number("TOP_BACKOFF_CAP", 30.0)

# --- task queue (django-q2) -----------------------------------------------------------------
REDIS_URL = matching(
    "REDIS_URL", "", r"(rediss?|unix)://.+|", "redis://host:6379/0, rediss://… or unix://…"
)
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

# --- caches ---------------------------------------------------------------------------------
# "shared" holds what every process must agree on, e.g. the API's request count per key (each
# gunicorn worker would otherwise grant a key its whole budget). Redis when there is one; else
# a table in PostgreSQL, created by migration ordersync 0004. "default" stays in-process: it
# takes django-q2's cluster statistics, written every half second, which need not be shared.
SHARED_CACHE_TABLE = "ordersync_cache"
_shared_cache: dict[str, object]
if REDIS_URL:
    _shared_cache = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "ordersync",
    }
else:
    _shared_cache = {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": SHARED_CACHE_TABLE,
        # past MAX_ENTRIES a third of the rows is culled, resetting budgets: keep it far away
        "OPTIONS": {"MAX_ENTRIES": 1_000_000},
    }
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "shared": _shared_cache,
}

# --- observability -------------------------------------------------------------------------
# When set, /metrics answers only scrapes sending "Authorization: Bearer <METRICS_TOKEN>".
# /metrics lists every merchant's nick and volume and answers any Host header: with
# DEBUG=False it is served only with a token (404 while METRICS_TOKEN is unset).
METRICS_TOKEN = read("METRICS_TOKEN", env.str, default="")
METRICS_NEED_TOKEN = not DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            # stamped in platform time with its offset (ordersync/shown.py)
            "()": "ordersync.shown.PlatformTimeFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {
        "handlers": ["console"],
        "level": matching(
            "LOG_LEVEL", "INFO", "(?i)DEBUG|INFO|WARNING|ERROR|CRITICAL", "DEBUG, INFO, WARNING, …"
        ).upper(),
    },
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- sync engine (all times are seconds of platform time) --------------------------------
SYNC_OVERLAP_SECONDS = positive_int("SYNC_OVERLAP_SECONDS", 300)
# Windows on visibility time (incrementv.get) have no lag gap to cover, but the platform's
# peak notices list incrementv.get among the lists that lag (docs/lag.md): their overlap
# keeps 300 s unless set lower; late arrivals on that time widen it.
SYNC_VISIBLE_OVERLAP_SECONDS = positive_int("SYNC_VISIBLE_OVERLAP_SECONDS", 300)
SYNC_LAG_SECONDS = non_negative_int("SYNC_LAG_SECONDS", 180)
SYNC_MAX_WINDOW_SECONDS = positive_int("SYNC_MAX_WINDOW_SECONDS", 1800)
SYNC_DEGRADED_WINDOW_SECONDS = positive_int("SYNC_DEGRADED_WINDOW_SECONDS", 6 * 3600)
for _name in ("SYNC_MAX_WINDOW_SECONDS", "SYNC_DEGRADED_WINDOW_SECONDS"):
    for _overlap in ("SYNC_OVERLAP_SECONDS", "SYNC_VISIBLE_OVERLAP_SECONDS"):
        if globals()[_name] + globals()[_overlap] > 86400:
            raise ImproperlyConfigured(
                f"{_name} plus {_overlap} must not pass one day (the API's window limit)"
            )
SYNC_SPLIT_THRESHOLD = positive_int("SYNC_SPLIT_THRESHOLD", 20000)
SYNC_PAGE_SIZE = positive_int("SYNC_PAGE_SIZE", 100)
if SYNC_PAGE_SIZE > 100:
    raise ImproperlyConfigured(f"SYNC_PAGE_SIZE={SYNC_PAGE_SIZE}: the platform allows at most 100")
SYNC_FULLINFO_CONCURRENCY = positive_int("SYNC_FULLINFO_CONCURRENCY", 4)
# A shop goes degraded when one stream's runs have all failed for this long (a blip of a
# failed run or two never does); its next successful run restores it.
SYNC_DEGRADE_AFTER_MINUTES = positive_int("SYNC_DEGRADE_AFTER_MINUTES", 15)
# A run stops starting windows after SYNC_RUN_TIME_LIMIT seconds, and a window that reads
# longer than SYNC_WINDOW_TIME_LIMIT keeps what it wrote and is read again narrower: both
# well inside Q_TIMEOUT, so a heavy window is never killed and retried at the same width.
# Windows a listed trade may fail with isv.trade-not-exist on fullinfo (detail index lag)
# before it is set aside for the reconcile and the stream moves on.
SYNC_NOT_FOUND_ATTEMPTS = positive_int("SYNC_NOT_FOUND_ATTEMPTS", 3)
# One scheduled task syncs both streams in one budget, and each may overrun it by a window.
SYNC_RUN_TIME_LIMIT = positive_int("SYNC_RUN_TIME_LIMIT", max(1, Q_TIMEOUT * 2 // 5))
SYNC_WINDOW_TIME_LIMIT = positive_int("SYNC_WINDOW_TIME_LIMIT", max(1, Q_TIMEOUT // 5))
if SYNC_RUN_TIME_LIMIT + 2 * SYNC_WINDOW_TIME_LIMIT >= Q_TIMEOUT:
    raise ImproperlyConfigured(
        f"SYNC_RUN_TIME_LIMIT={SYNC_RUN_TIME_LIMIT} plus twice SYNC_WINDOW_TIME_LIMIT="
        f"{SYNC_WINDOW_TIME_LIMIT} must stay under Q_TIMEOUT={Q_TIMEOUT}"
    )
# The platform's lag can outgrow SYNC_LAG_SECONDS + SYNC_OVERLAP_SECONDS (docs/lag.md):
# trade windows run on visibility time with incrementv.get where the app may call it; other
# streams sweep the last SYNC_SWEEP_SECONDS behind the cursor every SYNC_SWEEP_PERIOD_SECONDS
# (0: no sweep), and a lag measured from late arrivals widens lag and overlap per shop,
# halving every SYNC_LAG_HALF_LIFE_SECONDS.
SYNC_INCREMENTV = boolean("SYNC_INCREMENTV", default=True)
SYNC_SWEEP_SECONDS = non_negative_int("SYNC_SWEEP_SECONDS", 1800)
if SYNC_SWEEP_SECONDS > 86400:
    raise ImproperlyConfigured(
        f"SYNC_SWEEP_SECONDS={SYNC_SWEEP_SECONDS} must not pass one day (the API's window limit)"
    )
SYNC_SWEEP_PERIOD_SECONDS = non_negative_int("SYNC_SWEEP_PERIOD_SECONDS", 900)
SYNC_LAG_HALF_LIFE_SECONDS = positive_int("SYNC_LAG_HALF_LIFE_SECONDS", 3600)
BACKFILL_DAYS = positive_int("BACKFILL_DAYS", 90)
RECONCILE_HOUR = read("RECONCILE_HOUR", env.int, default=3)
if not 0 <= RECONCILE_HOUR <= 23:
    raise ImproperlyConfigured(f"RECONCILE_HOUR={RECONCILE_HOUR} must be an hour 0-23")
# Trade types to sync. The platform hides every type outside its default filter unless asked.
SYNC_TRADE_TYPES = read(
    "SYNC_TRADE_TYPES",
    env.list,
    default=[
        "fixed",
        "auction",
        "guarantee_trade",
        "step",
        "auto_delivery",
        "ec",
        "cod",
        "independent_simple_trade",
        "independent_shop_trade",
        "game_equipment",
        "shopex_trade",
        "netcn_trade",
        "external_trade",
        "instant_trade",
        "b2c_cod",
        "hotel_trade",
        "super_market_trade",
        "super_market_cod_trade",
        "taohua",
        "waimai",
        "o2o_offlinetrade",
        "nopaid",
        "eticket",
        "tmall_i18n",
        "insurance_plus",
        "finance",
        "pre_auth_type",
        "lazada",
        "fenxiao",
    ],
)

# --- TMC, the second channel (tmc_consume) ------------------------------------------------
TMC_GROUP = read("TMC_GROUP", env.str, default="default")
TMC_CONSUME_QUANTITY = positive_int("TMC_CONSUME_QUANTITY", 100)
if not 10 <= TMC_CONSUME_QUANTITY <= 200:
    raise ImproperlyConfigured(f"TMC_CONSUME_QUANTITY={TMC_CONSUME_QUANTITY}: must be 10-200")
TMC_COLLAPSE_SECONDS = read("TMC_COLLAPSE_SECONDS", env.float, default=0.5)
TMC_IDLE_SECONDS = read("TMC_IDLE_SECONDS", env.float, default=0.2)
TMC_FETCH_CONCURRENCY = positive_int("TMC_FETCH_CONCURRENCY", 4)
# A fetched trade may replace a row of its own `modified` second once that second is over
# plus this margin (trades/tmc/apply.py).
TMC_SETTLE_MARGIN_SECONDS = read("TMC_SETTLE_MARGIN_SECONDS", env.float, default=0.6)
TMC_PERMIT_REFRESH_SECONDS = positive_int("TMC_PERMIT_REFRESH_SECONDS", 30)
for _name in ("TMC_COLLAPSE_SECONDS", "TMC_IDLE_SECONDS", "TMC_SETTLE_MARGIN_SECONDS"):
    if not 0 <= globals()[_name] <= 60:
        raise ImproperlyConfigured(f"{_name}={globals()[_name]}: must be 0-60 seconds")

# --- JDP, the third channel (jdp_consume) ------------------------------------------------
# The ISV's Jushita RDS the platform pushes into (mysql://user:password@host:port/database);
# empty: JDP off. More RDS can be named in the console (their URLs encrypted at rest).
JDP_DATABASE_URL = read("JDP_DATABASE_URL", env.str, default="")
if JDP_DATABASE_URL and not JDP_DATABASE_URL.startswith("mysql://"):
    raise ImproperlyConfigured("JDP_DATABASE_URL must be a mysql:// URL")
# Rows re-read behind the checkpoint: the push may stamp a row behind rows already read.
JDP_OVERLAP_SECONDS = non_negative_int("JDP_OVERLAP_SECONDS", 10)
JDP_BATCH_SIZE = positive_int("JDP_BATCH_SIZE", 500)
JDP_IDLE_SECONDS = read("JDP_IDLE_SECONDS", env.float, default=1.0)
# With JDP live for a shop, polling runs at this interval (1-30) as the safety net.
JDP_SAFETY_POLL_MINUTES = positive_int("JDP_SAFETY_POLL_MINUTES", 30)
if not 1 <= JDP_SAFETY_POLL_MINUTES <= 30:
    raise ImproperlyConfigured(f"JDP_SAFETY_POLL_MINUTES={JDP_SAFETY_POLL_MINUTES}: must be 1-30")
# A change older than this when polling finds it (or JDP delivers it) counts against JDP.
JDP_LATE_SECONDS = positive_int("JDP_LATE_SECONDS", 300)

# --- parcels (trades/logistics/, docs/signals.md) --------------------------------------------
LOGISTICS_TRACKING = boolean("LOGISTICS_TRACKING", True)
LOGISTICS_STALL_HOURS = positive_number("LOGISTICS_STALL_HOURS", 72.0)
LOGISTICS_PICKUP_HOURS = positive_number("LOGISTICS_PICKUP_HOURS", 24.0)
LOGISTICS_MIN_CHECK_HOURS = positive_number("LOGISTICS_MIN_CHECK_HOURS", 2.0)
LOGISTICS_MAX_CHECK_HOURS = positive_number("LOGISTICS_MAX_CHECK_HOURS", 24.0)
LOGISTICS_CHECKS_PER_RUN = positive_int("LOGISTICS_CHECKS_PER_RUN", 200)
if LOGISTICS_MAX_CHECK_HOURS < LOGISTICS_MIN_CHECK_HOURS:
    raise ImproperlyConfigured(
        "LOGISTICS_MAX_CHECK_HOURS must not be below LOGISTICS_MIN_CHECK_HOURS"
    )

# --- partner REST API -----------------------------------------------------------------------
INSTALLED_APPS += ["drf_spectacular", "drf_spectacular_sidecar"]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["trades.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["trades.api.auth.HasApiKey"],
    "DEFAULT_THROTTLE_CLASSES": ["trades.api.auth.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        # DRF reads the number and the first letter of the period (s, m, h or d)
        "api_key": matching(
            "API_KEY_THROTTLE_RATE", "1200/min", _RATE_PATTERN, "requests/period, e.g. 1200/min"
        ),
        # requests without a usable key (none, malformed, unknown, expired), per client address
        "address": matching(
            "API_ADDRESS_THROTTLE_RATE", "120/min", _RATE_PATTERN, "requests/period, e.g. 120/min"
        ),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["trades.api.parsers.BoundedJSONParser"],
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
    # two models have a "state" with different values: each gets its own name
    "ENUM_NAME_OVERRIDES": {
        "JobStateEnum": "trades.api.models.Job.State",
        "DeliveryStateEnum": "trades.webhooks.models.WebhookDelivery.State",
        "WebhookEventTypeEnum": "trades.webhooks.catalog.EVENT_CHOICES",
        "EntityEnum": "trades.feed.changes.ENTITY_CHOICES",
    },
    "COMPONENT_SPLIT_REQUEST": True,
    # 3.1: the version with webhooks (each event type is one, with its body)
    "OAS_VERSION": "3.1.0",
    # ours first: it adds the webhooks, whose enums spectacular's hook then names
    "POSTPROCESSING_HOOKS": [
        "trades.openapi.finish_schema",
        "drf_spectacular.hooks.postprocess_schema_enums",
    ],
}

# Reverse proxies in front of gunicorn that append to X-Forwarded-For: the client address of the
# rate limits is the entry this many hops from the right. 0: the connection's own address.
NUM_PROXIES = non_negative_int("NUM_PROXIES", 0)

# --- console and seller onboarding (OAuth) --------------------------------------------------
# Seconds a "Connect a Taobao shop" authorization may take before its state expires.
OAUTH_STATE_MAX_AGE = positive_int("OAUTH_STATE_MAX_AGE", 900)
# The public base URL of the console (e.g. https://ordersync.example.com) when the callback
# URL registered with the app differs from what this host sees behind a proxy; unset = the
# request's own host.
OAUTH_REDIRECT_BASE_URL = matching(
    "OAUTH_REDIRECT_BASE_URL",
    "",
    r"https?://[^/\s]+(/\S*)?|",
    "a URL such as https://ordersync.example.com",
)
# Sessions expiring within this many seconds are refreshed by the token refresh schedule.
TOKEN_REFRESH_AHEAD_SECONDS = positive_int("TOKEN_REFRESH_AHEAD_SECONDS", 3 * 86400)

# --- outbound webhooks ----------------------------------------------------------------------
WEBHOOKS_ALLOW_PRIVATE = boolean("WEBHOOKS_ALLOW_PRIVATE", default=False)
# Loopback receivers only (127.0.0.0/8, ::1): what `manage.py demo` sets for its children, so a
# receiver on this machine can be tried. A loopback URL reaches this host's own services, so
# it is refused outside development.
WEBHOOKS_ALLOW_LOOPBACK = boolean("WEBHOOKS_ALLOW_LOOPBACK", default=False)
if WEBHOOKS_ALLOW_LOOPBACK and not DEBUG:
    raise ImproperlyConfigured(
        "WEBHOOKS_ALLOW_LOOPBACK=True is for the demo on a development machine: it needs DEBUG=True"
    )
WEBHOOKS_TIMEOUT = positive_number("WEBHOOKS_TIMEOUT", 10.0)
# the retry ladder: seconds after each failed attempt (±20% jitter); about three days in all
_ladder = read(
    "WEBHOOKS_RETRY_SECONDS",
    env.list,
    default=["5", "30", "120", "600", "1800", "3600", "10800", "21600", "43200", "86400", "86400"],
)
try:
    WEBHOOKS_RETRY_SECONDS = [float(step) for step in _ladder]
except ValueError:
    raise ImproperlyConfigured(f"WEBHOOKS_RETRY_SECONDS={_ladder!r}: not seconds") from None
WEBHOOKS_REQUEUE_SECONDS = read("WEBHOOKS_REQUEUE_SECONDS", env.float, default=10.0)
if not WEBHOOKS_REQUEUE_SECONDS >= 0:
    raise ImproperlyConfigured(
        f"WEBHOOKS_REQUEUE_SECONDS={WEBHOOKS_REQUEUE_SECONDS} must not be negative"
    )
WEBHOOKS_DISABLE_AFTER_HOURS = read("WEBHOOKS_DISABLE_AFTER_HOURS", env.float, default=24.0)
WEBHOOKS_SECRET_OVERLAP_HOURS = read("WEBHOOKS_SECRET_OVERLAP_HOURS", env.float, default=24.0)
# share of WEBHOOKS_DISABLE_AFTER_HOURS a failure run lasts before its tenant is warned
# (webhook_endpoint.failing, the console, /metrics)
WEBHOOKS_WARN_FRACTION = read("WEBHOOKS_WARN_FRACTION", env.float, default=0.5)
if not 0 < WEBHOOKS_WARN_FRACTION < 1:
    raise ImproperlyConfigured(
        f"WEBHOOKS_WARN_FRACTION={WEBHOOKS_WARN_FRACTION} must be between 0 and 1 (exclusive)"
    )
WEBHOOKS_CONCURRENCY = positive_int("WEBHOOKS_CONCURRENCY", 8)
WEBHOOKS_BATCH_SIZE = positive_int("WEBHOOKS_BATCH_SIZE", 100)
for _name in (
    "WEBHOOKS_TIMEOUT",
    "WEBHOOKS_DISABLE_AFTER_HOURS",
    "WEBHOOKS_SECRET_OVERLAP_HOURS",
):
    if globals()[_name] <= 0:
        raise ImproperlyConfigured(f"{_name}={globals()[_name]} must be positive")
if not WEBHOOKS_RETRY_SECONDS or min(WEBHOOKS_RETRY_SECONDS) <= 0:
    raise ImproperlyConfigured("WEBHOOKS_RETRY_SECONDS must be a list of positive seconds")

# --- per-tenant caps on what all tenants share (shops/caps.py, docs/security.md) ------------
TENANT_MAX_API_KEYS = positive_int("TENANT_MAX_API_KEYS", 50)
TENANT_MAX_WEBHOOK_ENDPOINTS = positive_int("TENANT_MAX_WEBHOOK_ENDPOINTS", 20)
TENANT_TEST_EVENTS_PER_HOUR = positive_int("TENANT_TEST_EVENTS_PER_HOUR", 60)
# deliveries one redeliver queues at most, and a tenant's deliveries waiting for a first try
# above which redeliver waits
WEBHOOKS_REDELIVER_PAGE = positive_int("WEBHOOKS_REDELIVER_PAGE", 1000)
# changes one replay to an endpoint may cover at most (a wider range is refused: split it)
WEBHOOKS_REPLAY_MAX_CHANGES = positive_int("WEBHOOKS_REPLAY_MAX_CHANGES", 100_000)
# POST shops/{id}/jobs/: one queued or running per shop and kind, then a cooldown
SHOP_JOB_COOLDOWN_SECONDS = positive_int("SHOP_JOB_COOLDOWN_SECONDS", 300)
# Retention (docs/audit-retention.md): ages in days, 0 keeps everything of that part
RETENTION_FEED_DAYS = non_negative_int("RETENTION_FEED_DAYS", 30)
RETENTION_WEBHOOK_EVENT_DAYS = non_negative_int("RETENTION_WEBHOOK_EVENT_DAYS", 30)
RETENTION_WEBHOOK_ATTEMPT_DAYS = non_negative_int("RETENTION_WEBHOOK_ATTEMPT_DAYS", 14)
RETENTION_SYNC_RUN_DAYS = non_negative_int("RETENTION_SYNC_RUN_DAYS", 30)
RETENTION_RECONCILE_REPORT_DAYS = non_negative_int("RETENTION_RECONCILE_REPORT_DAYS", 180)
RETENTION_JDP_FINDING_DAYS = non_negative_int("RETENTION_JDP_FINDING_DAYS", 90)
RETENTION_BATCH_SIZE = positive_int("RETENTION_BATCH_SIZE", 1000)
BUYER_DATA_GRACE_DAYS = non_negative_int("BUYER_DATA_GRACE_DAYS", 30)
SHOP_BACKFILL_COOLDOWN_SECONDS = positive_int("SHOP_BACKFILL_COOLDOWN_SECONDS", 6 * 3600)
