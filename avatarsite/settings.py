"""Django settings. Every value that varies between machines comes from `avatarsite.env`."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from redis.exceptions import ConnectionError as RedisConnectionError

from avatarsite.env import (
    BASE_DIR,
    PACKAGED_MODELS_DIR,
    VAR_DIR,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_optional,
    env_str,
    stored_secret,
)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = stored_secret("SECRET_KEY", "secret_key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
# Origins other than the server's own that may open a widget session or embed the widget.
WIDGET_ORIGINS = env_list("WIDGET_ORIGINS", [])
CSRF_TRUSTED_ORIGINS = [o for o in WIDGET_ORIGINS if o.startswith(("http://", "https://"))]
SESSION_TOKEN_TTL_S = env_int("SESSION_TOKEN_TTL_S", 60)
SESSIONS_PER_ORIGIN = env_int("SESSIONS_PER_ORIGIN", 200)
# What one session allows its client (docs/protocol.md, Limits); read by SessionLimits.
TURNS_PER_MINUTE = env_int("TURNS_PER_MINUTE", 30)
SESSION_IDLE_TIMEOUT_S = env_float("SESSION_IDLE_TIMEOUT_S", 300.0)
MAX_UTTERANCE_S = env_float("MAX_UTTERANCE_S", 30.0)

INSTALLED_APPS = [
    "daphne",
    "monitoring",  # before the admin: its admin/base_site.html adds the link to the charts
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_prometheus",
    "avatars",
    "handoff",
    "conversation",
    "lipsync_worker",
    "bench",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "avatarsite.urls"
ASGI_APPLICATION = "avatarsite.asgi.application"

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
                "django.template.context_processors.media",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=60,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web and workers) share the file: wait for locks instead of failing.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file, not memory, so the processes a test starts (workers, daphne) share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = env_str("MEDIA_URL_BASE", "/media/")
MEDIA_ROOT = VAR_DIR / "media"  # public: idle clips and posters only
# Not public: uploaded sources, consent evidence, baked arrays, canned clips. Sources and
# evidence are shown to staff with the right to view them, under PRIVATE_MEDIA_URL; the rest
# is never served over HTTP.
PRIVATE_MEDIA_ROOT = VAR_DIR / "private"
PRIVATE_MEDIA_URL = "/private-media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# Uploaded source videos can be large; Django streams anything above this to a temp file.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Checked by avatars/media_checks.py before an uploaded avatar source is stored.
AVATAR_SOURCE_MAX_BYTES = 200 * 1024 * 1024
AVATAR_SOURCE_MAX_VIDEO_S = 60.0
# Sources larger than this on their long side are scaled down on arrival; the original is
# not kept (docs/operations.md, Avatar sources).
AVATAR_SOURCE_MAX_SIDE = 2048

# --- Redis: Celery broker, channel layer, per-turn cancel flags -----------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "avatarsite.infra.channel_layer.RestartTolerantChannelLayer",
        "CONFIG": {
            # redis-py's default 5 s read timeout equals channels-redis's 5 s blocking pop:
            # give reads room so an idle session's pop never times out.
            # After a Redis restart a pooled connection fails once: retry it on a fresh one.
            "hosts": [
                {
                    "address": REDIS_URL,
                    "socket_timeout": 15,
                    "socket_connect_timeout": 5,
                    "retry_on_error": [RedisConnectionError],
                }
            ],
            "prefix": "avatar-asgi",
            # Media older than a few seconds is worthless to a live conversation: let it expire
            # rather than pile up behind a slow consumer.
            "expiry": 10,
            # Per channel, shared by every session of one daphne process; a speaking session
            # has a few dozen chunk messages in flight at most.
            "capacity": 500,
            "group_expiry": 3600,
        },
    }
}

# --- Celery ----------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# msgpack carries audio as raw bytes; pickle is never accepted (a reachable broker must not
# mean remote code execution).
CELERY_TASK_SERIALIZER = "msgpack"
CELERY_ACCEPT_CONTENT = ["msgpack", "json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "speech"
CELERY_TASK_ROUTES = {
    "lipsync_worker.tasks.*": {"queue": "lipsync"},
    "conversation.tasks.*": {"queue": "speech"},
    "avatars.tasks.*": {"queue": "speech"},
    "handoff.tasks.*": {"queue": "speech"},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Ten broker priorities (0 is taken first): a chunk's priority is how far into its answer it
# plays, so a new answer's first chunk is rendered before later chunks of answers already
# playing (contracts.messages.RenderRequest.priority).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600, "priority_steps": list(range(10))}
CELERY_WORKER_SEND_TASK_EVENTS = True  # Flower shows tasks live
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery beat (one `beat` process per deployment) runs these on the speech queue.
CELERY_BEAT_SCHEDULE = {
    "withdraw-expired-consent": {
        "task": "avatars.tasks.withdraw_expired_consent",
        "schedule": 30.0,
        "options": {"expires": 25},  # a sweep nobody ran in time is replaced by the next one
    },
    "send-due-handoff-webhooks": {
        "task": "handoff.tasks.send_due_webhooks",
        "schedule": 15.0,
        "options": {"expires": 14},
    },
    "purge-turn-records": {
        "task": "avatars.tasks.purge_turn_records",
        "schedule": 24 * 3600.0,
        "options": {"expires": 3600},
    },
}
TURN_RECORD_RETENTION_DAYS = env_int("TURN_RECORD_RETENTION_DAYS", 30)

# --- Hand-off to a person (docs/handoff.md) ----------------------------------------------------
# Shared transcripts (the one place customer text is stored) are deleted after this many days
# by the daily retention task; 0 keeps them.
HANDOFF_TRANSCRIPT_RETENTION_DAYS = env_int("HANDOFF_TRANSCRIPT_RETENTION_DAYS", 30)
# How long the webhook waits for the customer's answer to "may I share our conversation?".
HANDOFF_CONSENT_WAIT_S = env_float("HANDOFF_CONSENT_WAIT_S", 60.0)
HANDOFF_WEBHOOK_ATTEMPTS = env_int("HANDOFF_WEBHOOK_ATTEMPTS", 6)
HANDOFF_WEBHOOK_BACKOFF_S = env_float("HANDOFF_WEBHOOK_BACKOFF_S", 5.0)

# --- Admin and operators ---------------------------------------------------------------------
ADMIN_USER = env_str("ADMIN_USER", "admin")
ADMIN_EMAIL = env_str("ADMIN_EMAIL", "admin@localhost")
FLOWER_USER = env_str("FLOWER_USER", "operator")
METRICS_TOKEN = env_optional("METRICS_TOKEN")
METRICS_PUBLIC = DEBUG

# --- Pipeline backends -----------------------------------------------------------------------
LIPSYNC_RENDERER = env_str("LIPSYNC_RENDERER", "auto")
LIPSYNC_MEMORY_MB = env_int("LIPSYNC_MEMORY_MB", 4096)
LIPSYNC_BATCH_CHUNKS = max(0, env_int("LIPSYNC_BATCH_CHUNKS", 0))
LIPSYNC_BATCH_FRAMES = max(1, env_int("LIPSYNC_BATCH_FRAMES", 32))
LIPSYNC_BATCH_GATHER_MS = max(0.0, env_float("LIPSYNC_BATCH_GATHER_MS", 5.0))
LIPSYNC_DEVICE_MEMORY_MB = max(0, env_int("LIPSYNC_DEVICE_MEMORY_MB", 2048))
LIPSYNC_METRICS_PORT = max(0, env_int("LIPSYNC_METRICS_PORT", 0))
MUSETALK_MODELS = env_optional("MUSETALK_MODELS")
MODELS_DIR = PACKAGED_MODELS_DIR  # packaged models, assembled and checked at first use
WHISPER_MODEL = env_optional("WHISPER_MODEL")
ASR_LOCATION = env_str("ASR_LOCATION", "web")
WHISPER_DEVICE = env_str("WHISPER_DEVICE", "cpu")
WHISPER_COMPUTE_TYPE = env_str("WHISPER_COMPUTE_TYPE", "int8")
ASR_DECODES = max(1, env_int("ASR_DECODES", os.cpu_count() or 1))
ASR_ALTERNATIVES = max(0, env_int("ASR_ALTERNATIVES", 4))
VAD_END_SILENCE_MS = env_int("VAD_END_SILENCE_MS", 300)
TURN_MODEL = env_bool("TURN_MODEL", True)
TURN_THRESHOLD = env_float("TURN_THRESHOLD", 0.5)
TURN_MAX_SILENCE_MS = env_int("TURN_MAX_SILENCE_MS", 1500)
TURN_HOLD_MS = env_int("TURN_HOLD_MS", 900)
REPLY_STREAMING = env_bool("REPLY_STREAMING", True)  # off only for the benchmark's baseline
VAD_MIN_SPEECH_MS = env_int("VAD_MIN_SPEECH_MS", 200)
ANTHROPIC_API_KEY = env_optional("ANTHROPIC_API_KEY")
LLM_BASE_URL = env_optional("LLM_BASE_URL")
LLM_MODEL = env_optional("LLM_MODEL")
LLM_API_KEY = env_optional("LLM_API_KEY")
ESPEAK_PROGRAM = env_str("ESPEAK_PROGRAM", "espeak-ng")
LLM_TIMEOUT_S = env_float("LLM_TIMEOUT_S", 20.0)
LLM_FIRST_TOKEN_TIMEOUT_S = env_float("LLM_FIRST_TOKEN_TIMEOUT_S", 2.5)
LIPSYNC_TIMEOUT_S = env_float("LIPSYNC_TIMEOUT_S", 1.5)
TTS_TIMEOUT_S = env_float("TTS_TIMEOUT_S", 10.0)
TTS_VOICES_DIR = Path(env_str("TTS_VOICES_DIR", str(VAR_DIR / "voices")))

# --- Security for production -----------------------------------------------------------------
if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
    CSRF_COOKIE_HTTPONLY = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

# Error reports (logged 500s, mail to ADMINS if ever configured) never carry request bodies,
# query strings or local variables: those can hold what a user typed or said.
DEFAULT_EXCEPTION_REPORTER = "avatarsite.http.error_reports.PrivateExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "avatarsite.http.error_reports.PrivateReporterFilter"

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        name: {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False}
        for name in ("avatars", "handoff", "conversation", "lipsync_worker", "avatarsite")
    },
}
