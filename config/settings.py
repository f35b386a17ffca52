"""One settings module for every machine, configured by environment variables.

Every knob has a development default, so a bare checkout runs with nothing set.
`DJANGO_ENV` picks the profile:

- ``development`` (default): DEBUG on, SQLite under ``var/``, the provider sandbox
  on, and a secret key and encryption key generated once into
  ``var/dev-secrets.json`` (we say so on stderr when we create them).
- ``production``: DEBUG off, secure cookies, HSTS and SSL redirect; refuses to
  start without ``SECRET_KEY`` and ``FIELD_ENCRYPTION_KEYS``, and refuses the
  sandbox.

`.env.example` documents every variable.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("HUB_VAR_DIR", BASE_DIR / "var"))

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(
        f"DJANGO_ENV must be 'development' or 'production', not {DJANGO_ENV!r}."
    )
PRODUCTION = DJANGO_ENV == "production"

DEBUG = env.bool("DEBUG", default=not PRODUCTION)


def _development_secrets() -> dict[str, str]:
    """Load, or create once, the secrets a development checkout uses.

    They persist in ``var/dev-secrets.json`` so tokens encrypted yesterday still
    decrypt today; production never reaches this function.
    """
    path = VAR_DIR / "dev-secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    generated = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    path.write_text(json.dumps(generated, indent=2))
    path.chmod(0o600)
    print(
        f"[settings] development mode: generated SECRET_KEY and FIELD_ENCRYPTION_KEYS in {path}",
        file=sys.stderr,
    )
    return generated


def _required_in_production(name: str, hint: str) -> str:
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(
            f"{name} is not set. DJANGO_ENV=production refuses to start without it: {hint}"
        )
    return value


if PRODUCTION:
    SECRET_KEY = _required_in_production(
        "SECRET_KEY", "set it to a long random string (50+ characters)."
    )
    _encryption_keys = _required_in_production(
        "FIELD_ENCRYPTION_KEYS",
        "set it to one or more comma-separated Fernet keys (newest first).",
    )
else:
    _dev = _development_secrets()
    SECRET_KEY = env.str("SECRET_KEY", default=_dev["SECRET_KEY"])
    _encryption_keys = env.str("FIELD_ENCRYPTION_KEYS", default=_dev["FIELD_ENCRYPTION_KEYS"])

# First key encrypts, every key decrypts (MultiFernet): rotate by prepending.
FIELD_ENCRYPTION_KEYS = [key.strip() for key in _encryption_keys.split(",") if key.strip()]

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is not set. DJANGO_ENV=production needs the hub's host names."
    )

# Where providers send users back to; builds every OAuth redirect URI.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[PUBLIC_BASE_URL])

# --- Provider sandbox ---------------------------------------------------------
INTEGRATIONS_SANDBOX = env.bool("INTEGRATIONS_SANDBOX", default=not PRODUCTION)
if PRODUCTION and INTEGRATIONS_SANDBOX:
    raise ImproperlyConfigured(
        "INTEGRATIONS_SANDBOX=true is refused with DJANGO_ENV=production: "
        "the sandbox emulates providers and must never face real tenants."
    )


def _credential(name: str, sandbox_value: str) -> str:
    """A provider credential from the environment; the sandbox supplies its own."""
    return env.str(name, default=sandbox_value if INTEGRATIONS_SANDBOX else "")


# TikTok for Business (Marketing API)
TIKTOK_APP_ID = _credential("TIKTOK_APP_ID", "sandbox-tiktok-ads-app")
TIKTOK_APP_SECRET = _credential("TIKTOK_APP_SECRET", "sandbox-tiktok-ads-secret")
# TikTok Shop (Partner API)
TIKTOK_SHOP_APP_KEY = _credential("TIKTOK_SHOP_APP_KEY", "sandboxshopkey")
TIKTOK_SHOP_APP_SECRET = _credential("TIKTOK_SHOP_APP_SECRET", "sandbox-tiktok-shop-secret")
TIKTOK_SHOP_SERVICE_ID = _credential("TIKTOK_SHOP_SERVICE_ID", "7000000000000000001")
# TikTok Login Kit (Content)
TIKTOK_CONTENT_CLIENT_KEY = _credential("TIKTOK_CONTENT_CLIENT_KEY", "sandboxcontentkey")
TIKTOK_CONTENT_CLIENT_SECRET = _credential(
    "TIKTOK_CONTENT_CLIENT_SECRET", "sandbox-tiktok-content-secret"
)
# Meta (Facebook Login, Marketing API, WhatsApp)
META_APP_ID = _credential("META_APP_ID", "100000000000001")
META_APP_SECRET = _credential("META_APP_SECRET", "sandbox-meta-app-secret")
META_WEBHOOK_VERIFY_TOKEN = _credential("META_WEBHOOK_VERIFY_TOKEN", "sandbox-verify-token")
# Facebook Login for Business configuration id (its tokens do not expire); META_CONFIG_ID too.
META_LOGIN_CONFIG_ID = env.str(
    "META_LOGIN_CONFIG_ID", default=env.str("META_CONFIG_ID", default="")
)

# --- Provider hosts ---------------------------------------------------------------
# Real hosts from shared/contracts by default, the sandbox when it is on; each can
# be overridden (a provider's test host, a regional host, an egress proxy).
SANDBOX_BASE_URL = env.str("SANDBOX_BASE_URL", default=f"{PUBLIC_BASE_URL}/sandbox").rstrip("/")
# The sandbox pushes TikTok Shop webhooks (types 4 and 12) right after a ship or a
# return decision made through its API (apps/sandbox/shop_ops_data.py).
SANDBOX_SHOP_PUSH_WEBHOOKS = env.bool("SANDBOX_SHOP_PUSH_WEBHOOKS", default=False)


def _provider_url(name: str, real: str, sandbox_path: str) -> str:
    default = f"{SANDBOX_BASE_URL}{sandbox_path}" if INTEGRATIONS_SANDBOX else real
    return env.str(name, default=default).rstrip("/")


META_GRAPH_VERSION = env.str("META_GRAPH_VERSION", default="v25.0")
TIKTOK_ADS_API_BASE = _provider_url(
    "TIKTOK_ADS_API_BASE", "https://business-api.tiktok.com", "/tiktok-ads"
)
TIKTOK_ADS_AUTH_URL = _provider_url(
    "TIKTOK_ADS_AUTH_URL", "https://business-api.tiktok.com/portal/auth", "/tiktok-ads/portal/auth"
)
TIKTOK_SHOP_API_BASE = _provider_url(
    "TIKTOK_SHOP_API_BASE", "https://open-api.tiktokglobalshop.com", "/tiktok-shop/open-api"
)
TIKTOK_SHOP_AUTH_BASE = _provider_url(
    "TIKTOK_SHOP_AUTH_BASE", "https://auth.tiktok-shops.com", "/tiktok-shop/auth"
)
# The US authorize host differs (services.us.tiktokshop.com): copy the link Partner Center shows.
TIKTOK_SHOP_AUTHORIZE_URL = _provider_url(
    "TIKTOK_SHOP_AUTHORIZE_URL",
    "https://services.tiktokshop.com/open/authorize",
    "/tiktok-shop/services/open/authorize",
)
TIKTOK_CONTENT_API_BASE = _provider_url(
    "TIKTOK_CONTENT_API_BASE", "https://open.tiktokapis.com", "/tiktok-content/api"
)
TIKTOK_CONTENT_AUTHORIZE_URL = _provider_url(
    "TIKTOK_CONTENT_AUTHORIZE_URL",
    "https://www.tiktok.com/v2/auth/authorize",
    "/tiktok-content/v2/auth/authorize",
)
META_GRAPH_BASE = _provider_url("META_GRAPH_BASE", "https://graph.facebook.com", "/meta/graph")
META_DIALOG_URL = _provider_url(
    "META_DIALOG_URL",
    f"https://www.facebook.com/{META_GRAPH_VERSION}/dialog/oauth",
    "/meta/dialog/oauth",
)

# --- Applications ---------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_q",
    "apps.tenants",
    "apps.integrations",
    "apps.tiktok_ads",
    "apps.tiktok_shop",
    "apps.tiktok_content",
    "apps.meta_ads",
    "apps.catalog",
    "apps.leads",
    "apps.webhooks",
    "apps.capi",
    "apps.analytics",
]
if INTEGRATIONS_SANDBOX:
    INSTALLED_APPS.append("apps.sandbox")

MIDDLEWARE = [
    "apps.integrations.observability.CorrelationIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.tenants.middleware.CurrentTenantMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "django.template.context_processors.i18n",
                "apps.tenants.context_processors.tenancy",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; IMMEDIATE transactions
    # plus a busy timeout turn lock contention into a short wait, not an error.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": env.int("SQLITE_BUSY_TIMEOUT", default=20),
        }
    )
    if DATABASES["default"]["NAME"] != ":memory:":
        VAR_DIR.mkdir(parents=True, exist_ok=True)
else:
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # The stock backend, with a health check that polls the socket instead
        # of sending ``SELECT 1`` on every request (config/postgresql/base.py).
        DATABASES["default"]["ENGINE"] = "config.postgresql"
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # libpq waits forever for an unreachable server by default: a database outage would
    # hold every web worker (and each provider's webhook retry) instead of answering 500 at
    # once. A refused connection fails immediately either way (bench/fault_pg_outage.py).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=5)
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (shared by every process: rate budgets, breakers) ---------------------
CACHES = {"default": env.cache_url("CACHE_URL", default="dbcache://hub_cache")}

# --- Background work (django-q2) ------------------------------------------------
Q_BROKER = env.str("Q_BROKER", default="orm")
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
if Q_BROKER not in {"orm", "redis"}:
    raise ImproperlyConfigured(f"Q_BROKER must be 'orm' or 'redis', not {Q_BROKER!r}.")

Q_CLUSTER = {
    "name": env.str("Q_CLUSTER_NAME", default="hub"),
    "workers": env.int("Q_WORKERS", default=2),
    # A task may run this long before the worker is recycled ...
    "timeout": env.int("Q_TIMEOUT", default=600),
    # ... and is handed out again only after this: keep retry longer than timeout,
    # or a slow task runs twice at once.
    "retry": env.int("Q_RETRY", default=720),
    "max_attempts": 3,
    "catch_up": False,
    "save_limit": 1000,
    "ack_failures": True,
    "label": "Background tasks",
}
if Q_BROKER == "redis":
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = env.float("Q_POLL", default=0.5)

# --- Webhook inbox ----------------------------------------------------------------
# Events a drain task claims at once; how often one process may queue a drain;
# how long a drain keeps polling after its last event (longer than the kick
# interval, so no event waits for the minute sweep); attempts before `failed`.
WEBHOOKS_DRAIN_BATCH = env.int("WEBHOOKS_DRAIN_BATCH", default=200)
WEBHOOKS_DRAIN_KICK_INTERVAL = env.float("WEBHOOKS_DRAIN_KICK_INTERVAL", default=1.0)
WEBHOOKS_DRAIN_LINGER = env.float("WEBHOOKS_DRAIN_LINGER", default=2.0)
WEBHOOKS_MAX_ATTEMPTS = env.int("WEBHOOKS_MAX_ATTEMPTS", default=8)
# Deliveries larger than this are refused (413) before their body is read.
WEBHOOKS_MAX_BODY = env.int("WEBHOOKS_MAX_BODY", default=1024 * 1024)

# --- Conversions (Meta Conversions API, TikTok Events API) ---------------------------
# Events one dispatcher round claims at once (a few platform batches of 1,000), and the
# partner name sent to Meta with every batch (``partner_agent``).
CAPI_DISPATCH_CLAIM = env.int("CAPI_DISPATCH_CLAIM", default=5000)
CAPI_PARTNER_AGENT = env.str("CAPI_PARTNER_AGENT", default="integrations-hub")

# --- Auth, i18n, static ---------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed sign-ins allowed per account and per client address within the window
# (seconds) before the login form refuses; TRUSTED_PROXY_HEADER (e.g.
# HTTP_X_FORWARDED_FOR) only behind a proxy that sets it.
LOGIN_FAILURES_PER_ACCOUNT = env.int("LOGIN_FAILURES_PER_ACCOUNT", default=5)
LOGIN_FAILURES_PER_ADDRESS = env.int("LOGIN_FAILURES_PER_ADDRESS", default=30)
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=900)
TRUSTED_PROXY_HEADER = env.str("TRUSTED_PROXY_HEADER", default="")
LOGIN_URL = "tenants:login"
LOGIN_REDIRECT_URL = "integrations:hub"
LOGOUT_REDIRECT_URL = "tenants:login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("pt-br", _("Brazilian Portuguese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Date formats per language (config/formats/<lang>/formats.py): templates use the
# named formats (SHORT_DATETIME_FORMAT, ...), English keeps ISO-like dates, pt-BR dd/mm/aaaa.
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security -------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SAMESITE = "Lax"

# Content-Security-Policy on every response (django-csp 4). Nothing inline: no
# <script> or <style> blocks, no on*= handlers, no style= attributes; htmx runs
# from a static file with eval and its injected indicator <style> switched off
# (the <meta name="htmx-config"> in templates/base.html; the indicator CSS is in
# static/css/hub.css). Images may come from providers' CDNs (TikTok avatars and
# covers, product images), hence https:. form-action is left unset on purpose:
# Chromium applies it to the redirect after a form post, and "Connect" posts
# to the hub, which redirects to the provider's consent screen.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "https:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Load balancers probe health over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True

# --- Logging --------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# /metrics (Prometheus text) answers with `Authorization: Bearer $METRICS_TOKEN`;
# without a token it is open only with DEBUG on.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# ``json`` (one object per line, the production default) or ``plain``.
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if PRODUCTION else "plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(correlation_id)s] %(name)s %(message)s"},
        "json": {"()": "apps.integrations.observability.JsonFormatter"},
    },
    "filters": {
        # Defence in depth: known secrets and credential-shaped text never reach the output.
        "redact": {"()": "apps.integrations.redaction.RedactingFilter"},
        "correlation": {"()": "apps.integrations.observability.CorrelationFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact", "correlation"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django_q": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
