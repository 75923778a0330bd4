"""Settings for ptsdinfo, configured by environment variables (12-factor).

Every variable is listed in `.env.example` with its default. With none set the
site runs in DEBUG-free local mode on an embedded SQLite database; production
safety is checked by `manage.py check --deploy`, not by a second settings file.
"""

import hashlib
import os
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP

from ptsdinfo.observability import init_sentry

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "insecure-local-only-key-set-DJANGO_SECRET_KEY-in-production"
)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "markdownx",
    "evidence",
    "articles",
    "editorial",
    "ops",
    "publicsite",
    "accounts",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
]

# A PostgreSQL read replica (docs/deployment.md): see DATABASES below.
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")

# Order matters; outermost first.
MIDDLEWARE = [
    # With a replica: marks anonymous GET/HEAD requests as public reads (ptsdinfo/routers.py).
    *(["ptsdinfo.routers.public_reads_middleware"] if DATABASE_REPLICA_URL else []),
    # The request id: from a trusted proxy's X-Request-ID or generated, on every log line
    # and returned in the response (ptsdinfo/observability.py).
    "ptsdinfo.observability.request_id_middleware",
    # Writes a public page's file for nginx when nginx asks (publicsite/page_files.py);
    # not loaded unless PTSDINFO_PAGE_FILES_DIR is set.
    "publicsite.page_files.page_files_middleware",
    # X-Forwarded-Proto only from PTSDINFO_TRUSTED_PROXIES, before anything reads it.
    "accounts.security.forwarded_headers_middleware",
    "django.middleware.security.SecurityMiddleware",
    # CSP and Permissions-Policy right after SecurityMiddleware, so every response, the
    # 503 page included, carries them.
    "accounts.security.ContentSecurityPolicyMiddleware",
    "accounts.security.PermissionsPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Stored public pages are served here, inside every header above and before the
    # rest (publicsite/caching.py): a hit costs no session, CSRF, auth or URL work.
    # The language, from the URL alone: /es/... is Spanish, every other path English
    # (ptsdinfo/i18n.py). Before the page cache, whose keys include it.
    "ptsdinfo.i18n.path_locale_middleware",
    "publicsite.caching.PageCacheMiddleware",
    # The database-fault 503 sits inside the headers and outside sessions (whose save
    # may fail too); before `migrate`, pages say to run it (its process_exception sees a
    # missing table first).
    "accounts.security.DatabaseFaultMiddleware",
    "ptsdinfo.health.MigrationsPendingMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The admin in the staff member's chosen language (the public site: by path only).
    "accounts.language.StaffLanguageMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.security.StaffGuardMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

ROOT_URLCONF = "ptsdinfo.urls"
WSGI_APPLICATION = "ptsdinfo.wsgi.application"

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
                "django.template.context_processors.csp",
            ],
        },
    },
]

# SQLite by default so `make run` needs nothing installed; DATABASE_URL=postgres://...
# switches to PostgreSQL through psycopg 3.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers wait for the lock instead of failing; WAL lets readers run beside a writer.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# English at the root, Spanish under /es/ (docs/i18n.md). The interface strings are in
# locale/es/LC_MESSAGES/django.po; article translations are content (articles/models).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("PTSDINFO_STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Fingerprinted file names, served by WhiteNoise with far-future caching.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage",
    },
}

# "default" holds cached public pages (publicsite/caching.py); "publication" holds the
# publication generation that every publish bumps. With Redis both are shared by all
# machines. Without it pages stay in each process's memory, and the generation goes in
# a small file cache that every process on this machine shares (gunicorn workers, cron
# `publish_scheduled`), one per database, so a publish anywhere invalidates them all.
if os.environ.get("REDIS_URL"):
    # Short socket timeouts: a Redis that hangs costs a request at most this long, and
    # publicsite/caching.py then renders the page directly (a stopped Redis answers at once).
    _REDIS_OPTIONS = {
        "socket_connect_timeout": float(os.environ.get("REDIS_TIMEOUT", "0.5")),
        "socket_timeout": float(os.environ.get("REDIS_TIMEOUT", "0.5")),
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "OPTIONS": _REDIS_OPTIONS,
        },
        "publication": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "OPTIONS": _REDIS_OPTIONS,
        },
    }
else:
    _database_id = hashlib.sha256(
        repr([DATABASES["default"].get(k) for k in ("ENGINE", "NAME", "HOST", "PORT")]).encode()
    ).hexdigest()[:16]
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": 2000},
        },
        "publication": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": os.environ.get("PTSDINFO_PUBLICATION_CACHE_DIR")
            or str(Path(tempfile.gettempdir()) / f"ptsdinfo-publication-{_database_id}"),
        },
    }

# Public page caching (publicsite/caching.py). Seconds a whole page stays in the
# application cache (a publish invalidates it sooner) and in shared caches (CDNs and
# reverse proxies, which publishing purges: PTSDINFO_PURGE_URLS, comma-separated base
# URLs such as http://127.0.0.1:6081, each sent `PURGE <path>` for the affected paths).
PTSDINFO_PAGE_CACHE_SECONDS = int(os.environ.get("PTSDINFO_PAGE_CACHE_SECONDS", "600"))
PTSDINFO_SHARED_CACHE_SECONDS = int(os.environ.get("PTSDINFO_SHARED_CACHE_SECONDS", "3600"))
PTSDINFO_PURGE_URLS = env_list("PTSDINFO_PURGE_URLS", "")
PTSDINFO_PURGE_TIMEOUT = float(os.environ.get("PTSDINFO_PURGE_TIMEOUT", "3"))
# Public pages as files that nginx serves itself (publicsite/page_files.py): the folder
# nginx reads them from, and the add_header file `manage.py page_files_headers` wrote
# for nginx. Both empty (the default): no files are written.
PTSDINFO_PAGE_FILES_DIR = os.environ.get("PTSDINFO_PAGE_FILES_DIR", "")
PTSDINFO_PAGE_FILES_HEADERS = os.environ.get("PTSDINFO_PAGE_FILES_HEADERS", "")

# The languages articles may be translated into (issue 18): code -> name as staff see it.
# A translation is refused in any other language.
PTSDINFO_TRANSLATION_LANGUAGES = {"es": "Spanish"}

# Crisis help on every public page, per language (templates/includes/_crisis_help.html):
# each line a label and a text, where {tel:NUMBER} becomes a telephone link. The Spanish
# lines are for Spanish speakers in the US first (988 has Spanish-speaking counsellors).
PTSDINFO_CRISIS_HELP = {
    "en": [
        {"label": "US:", "text": "call or text {tel:988} (veterans press 1)"},
        {"label": "UK and Ireland:", "text": "Samaritans on {tel:116123|116 123}"},
        {
            "label": "Emergency:",
            "text": "{tel:911} (US), {tel:999} (UK), {tel:112} (Ireland and EU)",
        },
    ],
    "es": [
        {"label": "EE. UU.:", "text": "llame al {tel:988} y marque 2 para hablar en español"},
        {"label": "Por mensaje de texto:", "text": "envíe AYUDA al {tel:988}"},
        {"label": "España:", "text": "línea 024 de atención a la conducta suicida, {tel:024}"},
        {"label": "Emergencias:", "text": "{tel:911} (EE. UU. y México), {tel:112} (España y UE)"},
    ],
}

# Production hardening, on whenever DEBUG is off and HTTPS is declared.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Behind a TLS-terminating proxy (its X-Forwarded-For is believed only from
# PTSDINFO_TRUSTED_PROXIES, see the sign-in section below).
PTSDINFO_BEHIND_PROXY = env_bool("DJANGO_BEHIND_PROXY", False)
if PTSDINFO_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# django-markdownx: the preview goes through the project's one renderer.
MARKDOWNX_MARKDOWNIFY_FUNCTION = "articles.rendering.markdownify"
MARKDOWNX_UPLOAD_MAX_SIZE = 2 * 1024 * 1024
MARKDOWNX_UPLOAD_CONTENT_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"]
# markdownx's own views are not mounted; the widget posts to the staff-only ones.
MARKDOWNX_URLS_PATH = "/editor/markdownify/"
MARKDOWNX_UPLOAD_URLS_PATH = "/editor/upload/"
MARKDOWNX_MEDIA_PATH = "uploads/"

# Editorial settings.
PTSDINFO_READING_GRADE_TARGET = float(os.environ.get("PTSDINFO_READING_GRADE_TARGET", "9"))
PTSDINFO_PUBLISHER = os.environ.get("PTSDINFO_PUBLISHER", "ptsdinfo editorial team")
# Article slugs featured on the home page, in order (the newest articles when none is live).
PTSDINFO_FEATURED_ARTICLES = env_list(
    "PTSDINFO_FEATURED_ARTICLES", "what-is-ptsd,ptsd-treatments,ketamine-for-ptsd"
)

# Logs (ptsdinfo/observability.py): time, level, logger and request id on every line;
# JSON lines when LOG_FORMAT=json.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "ptsdinfo.observability.RequestIdFilter"}},
    "formatters": {"app": {"()": "ptsdinfo.observability.make_formatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "app",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
}

# --- SECURITY (issue 8; docs/security.md) ------------------------------------------

# Content-Security-Policy on every page, public and admin, in every environment (so
# development and the browser tests see what production enforces). Scripts only from
# this origin or with the per-response nonce: no 'unsafe-inline', no 'unsafe-eval'.
# Images only from this site: an article's images are the editor's uploads (the
# image-source gate), so no reader's visit is told to another host.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
if SECURE_SSL_REDIRECT:
    SECURE_CSP["upgrade-insecure-requests"] = True
if os.environ.get("PTSDINFO_CSP_REPORT_URI"):
    SECURE_CSP["report-uri"] = os.environ["PTSDINFO_CSP_REPORT_URI"]
# Browser features no page here uses; sent by accounts.security.PermissionsPolicyMiddleware.
PTSDINFO_PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
# The container health check calls http://127.0.0.1:8000/healthz from inside.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = SESSION_COOKIE_SAMESITE = "Lax"
# Staff sessions (the only sessions the site has) last 8 hours from sign-in.
PTSDINFO_STAFF_SESSION_SECONDS = int(os.environ.get("PTSDINFO_STAFF_SESSION_SECONDS", "28800"))
SESSION_COOKIE_AGE = PTSDINFO_STAFF_SESSION_SECONDS

# Login throttling (django-axes): five failures for one username from one address
# lock that pair for an hour; someone guessing from elsewhere cannot lock a clinician
# out. Unlock early with `manage.py axes_reset_username NAME` (see docs/security.md).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = int(os.environ.get("PTSDINFO_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("PTSDINFO_LOGIN_COOLOFF_MINUTES", "60")))
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "ptsdinfo.proxies.client_ip"
# The proxies whose X-Forwarded-For is believed (addresses or CIDR networks). The same
# variable sets gunicorn's forwarded_allow_ips (deploy/gunicorn.conf.py).
PTSDINFO_TRUSTED_PROXIES = env_list("PTSDINFO_TRUSTED_PROXIES", "127.0.0.1,::1")
AXES_VERBOSE = False  # accounts.security writes the audit log and its own log lines

# Second factor (django-otp TOTP). When on, Clinical reviewers, Publishers and
# superusers must enrol and verify a code before any admin or editor page. Off by
# default so `make run` and the tests need no authenticator; on in production.
PTSDINFO_REQUIRE_2FA = env_bool("PTSDINFO_REQUIRE_2FA", False)
OTP_TOTP_ISSUER = "ptsdinfo"
# Live-preview requests per user per minute (the editor sends one per pause in typing).
PTSDINFO_MARKDOWNIFY_PER_MINUTE = int(os.environ.get("PTSDINFO_MARKDOWNIFY_PER_MINUTE", "120"))
PTSDINFO_UPLOADS_PER_MINUTE = int(os.environ.get("PTSDINFO_UPLOADS_PER_MINUTE", "20"))
LOGGING.setdefault("loggers", {})["ptsdinfo.security"] = {"level": "INFO"}

# Citation metadata fetching (evidence.fetching): HTTPS to these hosts only, no redirects.
PTSDINFO_FETCH_ALLOWED_HOSTS = env_list(
    "PTSDINFO_FETCH_ALLOWED_HOSTS", "api.crossref.org,eutils.ncbi.nlm.nih.gov"
)
PTSDINFO_FETCH_TIMEOUT = float(os.environ.get("PTSDINFO_FETCH_TIMEOUT", "5"))
PTSDINFO_FETCH_MAX_BYTES = int(os.environ.get("PTSDINFO_FETCH_MAX_BYTES", str(1024 * 1024)))
# Sent as mailto: in the User-Agent (Crossref's polite pool) and as email= to NCBI.
PTSDINFO_FETCH_CONTACT = os.environ.get("PTSDINFO_FETCH_CONTACT", "")
# Evidence watch (manage.py watch_evidence): an NCBI API key raises PubMed's limit from
# 3 to 10 requests a second; the most results kept per saved search and run.
PTSDINFO_NCBI_API_KEY = os.environ.get("PTSDINFO_NCBI_API_KEY", "")
PTSDINFO_WATCH_MAX_RESULTS = int(os.environ.get("PTSDINFO_WATCH_MAX_RESULTS", "100"))
# For a metadata mirror (and the browser tests' recorded server): replacement endpoints
# as "crossref=https://host/works/,pubmed=https://host/efetch.fcgi", hosts on a private
# network that may be fetched from anyway, and an extra CA bundle. Empty by default.
PTSDINFO_FETCH_BASE_URLS = dict(
    item.split("=", 1) for item in env_list("PTSDINFO_FETCH_BASE_URLS", "") if "=" in item
)
PTSDINFO_FETCH_PRIVATE_HOSTS = env_list("PTSDINFO_FETCH_PRIVATE_HOSTS", "")
PTSDINFO_FETCH_CA_FILE = os.environ.get("PTSDINFO_FETCH_CA_FILE", "")

# --- SCALE-OUT (issue 7; docs/deployment.md) ----------------------------------------
# A PostgreSQL read replica: anonymous GET/HEAD requests read from it, everything else
# (writes, the admin, signed-in users, commands) uses the primary. ptsdinfo/routers.py.
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(
        DATABASE_REPLICA_URL,
        conn_max_age=DATABASES["default"]["CONN_MAX_AGE"],
        conn_health_checks=True,
    )
    # A replica that does not answer is given up on quickly (reads go to the primary).
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
    # Tests use the primary's test database for it (no second database to create).
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["ptsdinfo.routers.PrimaryReplicaRouter"]

# --- EMAIL AND REVIEW REMINDERS (issue 6: `review_due --email`) ------------------------
# Django 6.1's MAILERS (the EMAIL_* settings are deprecated). SMTP by default; the
# console backend (django.core.mail.backends.console.EmailBackend) prints instead.
_EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"
)
MAILERS = {
    "default": {
        "BACKEND": _EMAIL_BACKEND,
        "OPTIONS": {
            "host": os.environ.get("DJANGO_EMAIL_HOST", "localhost"),
            "port": int(os.environ.get("DJANGO_EMAIL_PORT", "25")),
            "username": os.environ.get("DJANGO_EMAIL_HOST_USER", ""),
            "password": os.environ.get("DJANGO_EMAIL_HOST_PASSWORD", ""),
            "use_tls": env_bool("DJANGO_EMAIL_USE_TLS", False),
            "timeout": int(os.environ.get("DJANGO_EMAIL_TIMEOUT", "10")),
        }
        if _EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend"
        else {},
    }
}
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "noreply@localhost")
# The site's public address, for links in reminder emails (e.g. https://ptsdinfo.example).
PTSDINFO_SITE_URL = os.environ.get("PTSDINFO_SITE_URL", "").rstrip("/")

# --- OPERATIONS (issue 15; docs/operations.md) -----------------------------------------
# /readyz (ptsdinfo/health.py): answered to requests from this machine, or carrying
# `Authorization: Bearer <PTSDINFO_READYZ_TOKEN>`; the replica counts as not ready when
# its replay is more than this many seconds behind.
PTSDINFO_READYZ_TOKEN = os.environ.get("PTSDINFO_READYZ_TOKEN", "")
PTSDINFO_REPLICA_MAX_LAG_SECONDS = float(os.environ.get("PTSDINFO_REPLICA_MAX_LAG_SECONDS", "30"))

# Error mail (Django mails 500s to ADMINS when DEBUG is off): comma-separated addresses.
ADMINS = env_list("DJANGO_ADMINS", "")
SERVER_EMAIL = os.environ.get("DJANGO_SERVER_EMAIL", DEFAULT_FROM_EMAIL)
# Optional error reporting (sentry-sdk): off unless SENTRY_DSN is set.
PTSDINFO_SENTRY_ENABLED = init_sentry(os.environ.get("SENTRY_DSN", ""))
# Uploads (/media/) served by the app itself, for a container without nginx in front
# (ptsdinfo/media.py); the shipped nginx serves them directly and this stays off.
PTSDINFO_SERVE_MEDIA = env_bool("PTSDINFO_SERVE_MEDIA", False)
