"""Settings shared by every environment. Environment-specific modules import * from here and
override; every value that differs between machines comes from an environment variable."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

from .env import env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent  # repository root
DATA_DIR = Path(env_str("FR_DATA_DIR", str(BASE_DIR / "var")))

DEBUG = False
ALLOWED_HOSTS: list[str] = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "csp",
    "backend.core",
    "backend.zones",
    "backend.cameras",
    "backend.accounts",
    "backend.audit",
    "backend.recognition",
    "backend.watchlists",
    "backend.operations",
    "backend.alerts",
    "backend.maintenance",
    "backend.demo",
    "backend.evaluation",
    "backend.dashboard",
]

MIDDLEWARE = [
    # First: everything after it sees the caller's real address in REMOTE_ADDR (TRUSTED_PROXY_COUNT).
    "backend.core.client_address.ClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "backend.accounts.middleware.SecondFactorRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "backend.core.middleware.RequestIdMiddleware",
    # Last, as django-axes requires: it turns a lockout signalled by its backend into a response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "backend.urls"
ASGI_APPLICATION = "backend.asgi.application"
WSGI_APPLICATION = "backend.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "backend.dashboard.context.navigation",
            ],
        },
    },
]

# --- the three outside services -------------------------------------------------------------
# DATABASE_URL: PostgreSQL 16+ with pgvector. REDIS_URL: Redis/Valkey base URL *without* a db
# number (the broker, the channel layer and the cache each take their own db). TRITON_URL: the
# Triton server's gRPC endpoint, host:port.
DATABASES = {"default": dj_database_url.parse(env_str("DATABASE_URL", "postgres://invalid/unset"), conn_max_age=60)}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6380").rstrip("/")
TRITON_URL = env_str("TRITON_URL", "127.0.0.1:8011")
TRITON_TIMEOUT_S = env_float("TRITON_TIMEOUT_S", 10.0, minimum=0.1, maximum=120.0)
# Models that must be READY for /healthz to call inference healthy.
TRITON_REQUIRED_MODELS = env_list("TRITON_REQUIRED_MODELS", ["face_detector", "face_embedder", "face_pipeline"])

CELERY_BROKER_URL = f"{REDIS_URL}/0"
CELERY_RESULT_BACKEND = None  # tasks never return results to callers (STYLE.md: tasks are interfaces)
CELERY_TASK_ACKS_LATE = True  # a worker that dies mid-task leaves the message for another worker
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes every database connection before and after each task unless this is
# set: a new PostgreSQL connection per frame (~9% of a recognition worker's CPU and a backend
# process forked per frame, issue 16). Now a worker closes them every 2 x this many tasks, and
# Django's CONN_MAX_AGE and health checks retire stale or broken ones in between.
CELERY_DB_REUSE_MAX = 500
# Redis re-delivers an unacknowledged (acks_late) task after this long. It must exceed the longest
# task (a bulk import of thousands of photos), or a second worker starts the same job while the
# first still runs (the importer would not duplicate rows, but the work would be done twice).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 6 * 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Frames go to their own queue: its length is the backlog the ingest side sheds load on.
# audit.checkpoint runs only on the worker that holds the signing key (queue `audit`: the compose
# `signer` service; the embedded stack's one worker consumes it too).
CELERY_TASK_ROUTES = {
    "recognition.recognise_frame": {"queue": "recognition"},
    "audit.checkpoint": {"queue": "audit"},
}
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "retention-run": {"task": "core.retention_run", "schedule": timedelta(hours=1)},
    # Sign the audit chain head into the checkpoint file (backend/audit/checkpoints.py).
    "audit-checkpoint": {"task": "audit.checkpoint", "schedule": timedelta(minutes=5)},
    # Mark subjects whose expiry has passed (matching already stopped at query time).
    "subjects-expire": {"task": "watchlists.subjects_expire", "schedule": timedelta(minutes=5)},
    # Escalate alerts nobody acknowledged in time.
    "alerts-escalate": {"task": "alerts.escalate_overdue", "schedule": timedelta(seconds=15)},
    # Mark cameras offline whose ingest stopped reporting.
    "cameras-health-sweep": {"task": "cameras.health_sweep", "schedule": timedelta(seconds=30)},
    # End operations whose window passed (recognition already stopped at the window's end).
    "operations-end-lapsed": {"task": "operations.end_lapsed", "schedule": timedelta(minutes=1)},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # A socket timeout longer than channels_redis' 5 s blocking receive (BZPOPMIN): redis-py 8
        # defaults to 5 s, which timed the receive out and dropped every WebSocket every 5 s.
        "CONFIG": {"hosts": [{"address": f"{REDIS_URL}/1", "socket_timeout": 15}]},
    }
}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"{REDIS_URL}/2",
    }
}

# --- the caller's address -------------------------------------------------------------------
# How many reverse proxies stand between clients and Daphne, each appending to X-Forwarded-For.
# The embedded stack (`make run`, tests): none, clients reach Daphne directly. Compose: one, the
# host's TLS proxy in front of 127.0.0.1:8000 (docker-compose.yml sets FR_TRUSTED_PROXIES=1).
# Login throttling, lockout, the audit ip and the /metrics loopback rule all derive the caller's
# address from this one number (backend/core/client_address.py). Too high a number lets callers
# choose their address; too low makes every caller look like the proxy.
TRUSTED_PROXY_COUNT = env_int("FR_TRUSTED_PROXIES", 0, minimum=0, maximum=5)

# --- users --------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses locked-out users before the password check
    "django.contrib.auth.backends.ModelBackend",
]
# Second factor (TOTP) for every role: each reads sensitive records (commissioners: city-wide
# figures and operations they authorise). Only local development may relax it, explicitly;
# production refuses the relaxation (settings/production.py).
SECOND_FACTOR_RELAXED = False
SECOND_FACTOR_ROLES = ["commissioner", "officer", "supervisor", "auditor", "admin"]
OTP_TOTP_ISSUER = "City Live Face Recognition"
# Lockout: 5 failures for one username from one address locks that pair for 30 minutes.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=3, maximum=20)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 30, minimum=1, maximum=24 * 60))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# The caller's address for lockout: the one rule of backend/core/client_address.py.
AXES_CLIENT_IP_CALLABLE = "backend.core.client_address.client_address"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=300, maximum=7 * 24 * 3600)  # one shift
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Content-Security-Policy: only our own scripts (the Vite bundle; no inline scripts), no
# plugins, no framing. MAP_TILE_URL's host is added to img-src when a tile server is configured.
MAP_TILE_URL = env_str("MAP_TILE_URL", "-").strip("-")
_tile_hosts = [MAP_TILE_URL.split("/{")[0]] if MAP_TILE_URL else []
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:", *_tile_hosts],
        "connect-src": [SELF],
        "object-src": [NONE],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
    }
}

# Uploaded images (enrolment photos, search by photo): limits checked before decoding.
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 15 * 1024 * 1024, minimum=1024, maximum=200 * 1024 * 1024)
UPLOAD_MAX_PIXELS = env_int("UPLOAD_MAX_PIXELS", 40_000_000, minimum=10_000, maximum=400_000_000)
FILE_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_MAX_BYTES
DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_MAX_BYTES + 1024 * 1024

# --- watchlists -------------------------------------------------------------------------
# Enrolment is stricter than live recognition: a gallery photo is chosen, a camera frame is not.
ENROL_MIN_INTEROCULAR_PX = env_int("ENROL_MIN_INTEROCULAR_PX", 24, minimum=16, maximum=200)
# Longest a watchlist entry may be approved for before it must be renewed (and re-approved).
WATCHLIST_MAX_EXPIRY_DAYS = env_int("WATCHLIST_MAX_EXPIRY_DAYS", 730, minimum=1, maximum=3650)
# Longest window an operation (an authorised deployment) may be requested for.
OPERATION_MAX_DAYS = env_int("OPERATION_MAX_DAYS", 30, minimum=1, maximum=366)
# 1:N search: exact scan over the eligible templates up to this many, HNSW above (search.py;
# figures from backend/benchmarks/search.py in docs/architecture.md).
SEARCH_EXACT_MAX_TEMPLATES = env_int("SEARCH_EXACT_MAX_TEMPLATES", 20_000, minimum=0, maximum=10_000_000)
# A bulk-import zip (subjects.csv + photos).
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 500 * 1024 * 1024, minimum=1024 * 1024, maximum=5 * 1024**3)
SEARCH_HNSW_EF = env_int("SEARCH_HNSW_EF", 100, minimum=10, maximum=1000)  # up to 100k eligible
SEARCH_HNSW_EF_LARGE = env_int("SEARCH_HNSW_EF_LARGE", 400, minimum=10, maximum=1000)  # above

# --- live recognition -----------------------------------------------------------------------
# Frames are lossy by design: a frame lives in Redis for FRAME_TTL_S only; a task that starts
# later than FRAME_MAX_AGE_S after the capture drops it as stale (counted), never queues it.
FRAME_TTL_S = env_int("FRAME_TTL_S", 15, minimum=2, maximum=300)
# 2 s: an officer should hear of a face within a second or two; under overload a frame older than
# that is worth less than the next one (the benchmark: at 16 cameras on 2 cores, 5 s let the queue
# hold every frame for 5 s; 2 s bounds the latency of what is still processed).
FRAME_MAX_AGE_S = env_float("FRAME_MAX_AGE_S", 2.0, minimum=0.5, maximum=300.0)
FRAME_MAX_BYTES = env_int("FRAME_MAX_BYTES", 4 * 1024 * 1024, minimum=10_000, maximum=50 * 1024 * 1024)
# Shed load (push: 429 with Retry-After; ingest: drop, counted) when this many frames wait.
FRAME_MAX_QUEUE = env_int("FRAME_MAX_QUEUE", 200, minimum=1, maximum=1_000_000)
RECOGNITION_QUEUE = "recognition"
# Evidence pooling over a short track (backend/alerts/pooling.py).
TRACK_GAP_S = env_float("TRACK_GAP_S", 3.0, minimum=0.1, maximum=60.0)  # longest gap inside a track
TRACK_POOL_MIN_FRAMES = env_int("TRACK_POOL_MIN_FRAMES", 2, minimum=1, maximum=50)
# A single frame this far above the watchlist's threshold alerts at once.
TRACK_SINGLE_FRAME_MARGIN = env_float("TRACK_SINGLE_FRAME_MARGIN", 0.03, minimum=0.0, maximum=0.2)
# The same subject at the same camera within the cooldown extends the alert with sightings.
ALERT_COOLDOWN_S = env_int("ALERT_COOLDOWN_S", 300, minimum=0, maximum=24 * 3600)
# Unacknowledged alerts escalate after this many seconds, by watchlist priority (1 = highest).
ALERT_ESCALATE_AFTER_S = {
    1: env_int("ALERT_ESCALATE_P1_S", 60, minimum=5, maximum=86400),
    2: env_int("ALERT_ESCALATE_P2_S", 120, minimum=5, maximum=86400),
    3: env_int("ALERT_ESCALATE_P3_S", 300, minimum=5, maximum=86400),
    4: env_int("ALERT_ESCALATE_P4_S", 600, minimum=5, maximum=86400),
    5: env_int("ALERT_ESCALATE_P5_S", 1800, minimum=5, maximum=86400),
}
# Prometheus /metrics: a bearer token when set; without one only loopback callers are answered.
METRICS_TOKEN = env_str("METRICS_TOKEN", "-").strip("-")

# --- audit -------------------------------------------------------------------------------
# Signed checkpoints of the audit chain and the Ed25519 key that signs them live outside the
# database (the key file is created with mode 600 on first use). Keep both off the database host.
AUDIT_CHECKPOINT_DIR = Path(env_str("FR_AUDIT_CHECKPOINT_DIR", str(DATA_DIR / "audit-checkpoints")))
AUDIT_SIGNING_KEY_PATH = Path(env_str("FR_AUDIT_SIGNING_KEY_PATH", str(DATA_DIR / "secrets" / "audit_signing_key")))
# Verification fails when events older than this are not covered by a signed checkpoint (the
# checkpoint task runs every 5 minutes): a deleted or truncated checkpoint file, or stopped signing.
AUDIT_CHECKPOINT_MAX_AGE_S = env_int("AUDIT_CHECKPOINT_MAX_AGE_S", 900, minimum=60, maximum=7 * 24 * 3600)
# Refusals (failed logins, wrong camera push tokens) are audited in detail within these budgets a
# minute and counted beyond them into one summary event (backend/audit/refusals.py).
AUDIT_REFUSALS_PER_SOURCE = env_int("AUDIT_REFUSALS_PER_SOURCE", 10, minimum=1, maximum=10_000)
AUDIT_REFUSALS_PER_MINUTE = env_int("AUDIT_REFUSALS_PER_MINUTE", 60, minimum=1, maximum=100_000)

# --- backups (backend/maintenance, docs/operations.md) ----------------------------------------
# The archive key (32 random bytes, base64, mode 600) belongs to the operator: in production keep
# it off the data disk and the backup storage. BACKUP_RETENTION_DAYS 0 = the shortest retention
# of biometric data, so old archives never keep purged photos or probe crops longer than that.
BACKUP_DIR = Path(env_str("FR_BACKUP_DIR", str(DATA_DIR / "backups")))
BACKUP_KEY_PATH = Path(env_str("FR_BACKUP_KEY_PATH", str(DATA_DIR / "secrets" / "backup_key")))
BACKUP_RETENTION_DAYS = env_int("BACKUP_RETENTION_DAYS", 0, minimum=0, maximum=3650)
# pg_dump / pg_restore of the server's major version (empty: the embedded wheel's, else the PATH).
PG_BIN_DIR = env_str("FR_PG_BIN_DIR", "-").strip("-")

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate challenge makes unauthenticated API calls 401, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "backend.accounts.tokens.ScopedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["backend.accounts.permissions.MatrixPermission"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "backend.core.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "backend.core.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Rate limits (per user, or per address when anonymous), counted in the Redis cache. Expensive
    # endpoints (search by photo, exports) set `throttle_scope` to one of the scoped rates.
    # The throttles' caller identity: the same proxy count as everything else (unset, DRF would
    # take the whole X-Forwarded-For header, which the caller writes, as the identity).
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_RATE_ANON", "120/minute"),
        "user": env_str("API_RATE_USER", "1200/minute"),
        "login": env_str("API_RATE_LOGIN", "10/minute"),
        "expensive": env_str("API_RATE_EXPENSIVE", "30/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "City live face recognition API",
    "DESCRIPTION": "Watchlists, cameras, alerts and audit for the city police platform.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["backend.accounts.permissions.MatrixPermission"],
    # Several models have a `status` field with their own choices: one clear enum name each.
    "ENUM_NAME_OVERRIDES": {
        "SubjectStatusEnum": "backend.watchlists.models.Subject.Status",
        "ImportJobStatusEnum": "backend.watchlists.models.ImportJob.Status",
        "OperationStatusEnum": "backend.operations.models.Operation.Status",
        "AlertStatusEnum": "backend.alerts.models.Alert.Status",
        "EvaluationReportKindEnum": "backend.evaluation.models.EvaluationReport.Kind",
    },
}

# --- files, time, language ------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Asia/Kolkata"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "frontend" / "dist"]
MEDIA_ROOT = DATA_DIR / "media"
# Face photos for tests, demos and evaluation (read-only; see ../shared/datasets/README.md).
DATASETS_DIR = Path(env_str("FR_DATASETS_DIR", str(BASE_DIR.parent / "shared" / "datasets")))
# Daphne does not serve static files; in development and CI the ASGI app does (backend/asgi.py).
SERVE_STATIC = False

# One JSON object per line, ids only (never templates, image bytes, tokens or passwords); the
# redaction filter masks anything that slips through. LOG_FORMAT=plain for human eyes.
LOG_FORMAT = env_str("LOG_FORMAT", "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "backend.core.logging.RedactingFilter"}},
    "formatters": {
        "json": {"()": "backend.core.logging.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
