"""Kapstone's settings. Every knob comes from the environment, and a bad value stops start-up loudly.

The defaults are the production ones: DEBUG is off, cookies are secure, and a SECRET_KEY is required.
`KAPSTONE_DEMO=1` (set by `make run` and the test suite) relaxes only what a laptop demo needs.
"""

import os
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def envbool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), not {raw!r}.")


def envint(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
    return value


def envlist(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def envrequired(name: str, demo_default: str | None) -> str:
    """A plain setting production must be given; the demo has a default."""
    value = os.environ.get(name, "").strip()
    if value:
        return value
    if demo_default is not None:
        return demo_default
    raise ImproperlyConfigured(f"{name} is not set. Set it in the environment; for a local demo, set KAPSTONE_DEMO=1.")


def envsecret(name: str, demo_default: str | None, *, min_length: int = 1) -> str:
    """A secret from NAME, or from the file named by NAME_FILE (for container secrets), refused when shorter than
    `min_length` characters."""
    if os.environ.get(f"{name}_FILE"):
        value = Path(os.environ[f"{name}_FILE"]).read_text().strip()
    else:
        value = os.environ.get(name, "")
    if value:
        if len(value) < min_length:
            raise ImproperlyConfigured(
                f"{name} must be at least {min_length} characters; generate one with "
                "python -c 'import secrets; print(secrets.token_hex(32))'."
            )
        return value
    if demo_default is not None:
        return demo_default
    raise ImproperlyConfigured(
        f"{name} is not set. Set it in the environment (or {name}_FILE to a file holding it); "
        "for a local demo, set KAPSTONE_DEMO=1 instead."
    )


DEMO = envbool("KAPSTONE_DEMO", False)
DEBUG = envbool("DEBUG", False)
if DEBUG and not DEMO:
    # Django's debug pages show settings, queries and the values on the stack (a patient's record among them) to
    # whoever meets an error: only ever on a laptop demo.
    raise ImproperlyConfigured("DEBUG is on outside demo mode. Turn it off (DEBUG=0) to serve the practice.")
VAR_DIR = Path(os.environ.get("KAPSTONE_VAR_DIR", Path.cwd() / "var")).resolve()
# A practice's own wording for questionnaires Kapstone ships without it (kapstone/measures/wording.py).
INSTRUMENT_WORDING_DIR = os.environ.get("KAPSTONE_INSTRUMENT_WORDING_DIR", "")
# A practice's own course templates, checked like the shipped ones (kapstone/program/course_templates.py).
KAPSTONE_COURSE_TEMPLATES_DIR = os.environ.get("KAPSTONE_COURSE_TEMPLATES_DIR", "")

DEMO_SECRET_KEY = "demo-only-secret-key-not-for-production-use-0123456789abcdef"  # noqa: S105 - published: the demo's
# Outside the demo the key signs every session and password link: at least Django's own minimum for a strong key
# (check --deploy's security.W009), and never the demo's, which is published with the code.
SECRET_KEY = envsecret("SECRET_KEY", DEMO_SECRET_KEY if DEMO else None, min_length=1 if DEMO else 50)
if not DEMO and SECRET_KEY == DEMO_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is the demo's, which is published with the code; generate one with "
        "python -c 'import secrets; print(secrets.token_hex(32))'."
    )
# Keys for pseudonymous research IDs and for encrypting psychotherapy notes at rest.
# The research key is what keeps a pseudonym from being traced back to the sequential record id it hashes: a
# short key could be guessed offline, so it must carry at least 128 bits (32 hex characters).
RESEARCH_ID_KEY = envsecret("KAPSTONE_RESEARCH_ID_KEY", "demo-research-id-key" if DEMO else None, min_length=32)
NOTES_ENCRYPTION_KEY = envsecret("KAPSTONE_NOTES_KEY", "ZGVtby1vbmx5LW5vdGVzLWtleS0zMmJ5dGVzLWxvbmc=" if DEMO else None)

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"] if DEMO else [])
if not ALLOWED_HOSTS:
    # Without it every request would be refused with a 400 that names nothing; say so at start-up instead.
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is not set. Set it to the host names the practice serves, comma-separated."
    )
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])
# The address every emailed or texted link starts with (password links among them), never taken from a request's
# Host header, which a visitor chooses. Over plain HTTP a link's token could be read on the way: http only locally.
SITE_URL = envrequired("KAPSTONE_SITE_URL", "http://127.0.0.1:8000" if DEMO else None)
if not SITE_URL.startswith(("https://", "http://localhost", "http://127.0.0.1")):
    raise ImproperlyConfigured(
        f"KAPSTONE_SITE_URL must be the https:// address the practice is served at (http:// only for localhost), "
        f"not {SITE_URL!r}."
    )

# Passkeys (WebAuthn, django-otp-webauthn) as a staff member's second factor. The relying party id is the host
# name the practice is served under: a passkey is bound to it, so changing it later orphans every enrolled passkey.
# Browsers refuse an IP address as the id, so the demo's passkeys work at http://localhost:8000, not 127.0.0.1.
OTP_WEBAUTHN_RP_ID = envrequired("KAPSTONE_WEBAUTHN_RP_ID", "localhost" if DEMO else None).lower()
if not re.fullmatch(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?", OTP_WEBAUTHN_RP_ID):
    raise ImproperlyConfigured(
        f"KAPSTONE_WEBAUTHN_RP_ID must be the bare host name staff sign in at (e.g. kap.example.org), "
        f"not {OTP_WEBAUTHN_RP_ID!r}."
    )
# Shown by the browser or phone when a passkey is made ("Save a passkey for ...").
OTP_WEBAUTHN_RP_NAME = envrequired("KAPSTONE_WEBAUTHN_RP_NAME", "Kapstone demo" if DEMO else None)
# The exact origins (scheme, host, port) sign-in pages are served from; a passkey answer made on any other is refused.
OTP_WEBAUTHN_ALLOWED_ORIGINS = envlist(
    "KAPSTONE_WEBAUTHN_ORIGINS", ["http://localhost:8000"] if DEMO else [f"https://{OTP_WEBAUTHN_RP_ID}"]
)
for _origin in OTP_WEBAUTHN_ALLOWED_ORIGINS:
    if not _origin.startswith(("https://", "http://localhost")):
        raise ImproperlyConfigured(
            f"KAPSTONE_WEBAUTHN_ORIGINS must list https:// origins (http:// only for localhost), not {_origin!r}."
        )
# Password first, always: a passkey is a second factor here, never a way around the password and its lockout.
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False
OTP_WEBAUTHN_HELPER_CLASS = "kapstone.accounts.passkeys.PasskeyHelper"
# How long the second step of a staff sign-in (code or passkey) waits after a correct password.
SIGN_IN_SECOND_STEP_SECONDS = 300

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "axes",
    "kapstone.accounts",
    "kapstone.audit",
    "kapstone.patients",
    "kapstone.practice",
    "kapstone.portal",
    "kapstone.measures",
    "kapstone.screening",
    "kapstone.program",
    "kapstone.dosing",
    "kapstone.integration",
    "kapstone.creativity",
    "kapstone.outcomes",
    "kapstone.alerts",
    "kapstone.billing",
    "kapstone.messaging",
    "kapstone.operations",
    "kapstone.home",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files straight from the app server, compressed and cached for ever under hashed names.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "kapstone.practice.middleware.ContentSecurityPolicyMiddleware",
    "kapstone.practice.middleware.FormMethodsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "kapstone.accounts.middleware.SessionLifetimeMiddleware",
    "kapstone.accounts.signed_in.VerifiedDeviceMiddleware",
    "kapstone.audit.middleware.AuditContextMiddleware",
    "kapstone.accounts.middleware.DeniedAccessAuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "kapstone.practice.middleware.UnstorableInputMiddleware",
]

ROOT_URLCONF = "kapstone.urls"
WSGI_APPLICATION = "kapstone.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home:home"
LOGOUT_REDIRECT_URL = "accounts:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [Path(__file__).parent / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kapstone.accounts.context_processors.role",
            ],
            # `{% url %}` reversed once a process for each name and arguments (kapstone/reversing.py says why).
            "builtins": ["kapstone.reversing"],
        },
    },
]
# The common widgets drawn in Python to the markup of Django's templates: the dosing room and the intake form draw
# hundreds of fields a page (kapstone/formrender.py).
FORM_RENDERER = "kapstone.formrender.FormRenderer"

try:
    DATABASES = {
        "default": dj_database_url.parse(
            os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'kapstone.sqlite3'}"),
            # Persistent connections: opening one per request cuts PostgreSQL's request rate by three quarters
            # (issue 19). The health check replaces a connection the server closed before it is used.
            conn_max_age=envint("DATABASE_CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
    }
except ValueError as problem:
    raise ImproperlyConfigured(
        f"DATABASE_URL is not a database address Kapstone can use ({problem}); "
        "e.g. postgres://kapstone_app@db:5432/kapstone."
    ) from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite waits for a writer rather than failing at once when two requests write together.
    # IMMEDIATE transactions take the write lock up front, so two writers queue instead of deadlocking
    # (the audit chain and seat counts read-then-write inside one transaction).
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "kapstone.accounts.signed_in.SignedInUserBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Lock an account after repeated failed logins (django-axes), per username so one attacker's address
# cannot lock out a whole clinic behind one NAT.
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = envint("AXES_COOLOFF_MINUTES", 30) / 60
AXES_LOCKOUT_PARAMETERS = ["username"]
# The address of a failed sign-in, as the audit trail records it (the client's behind the proxy, not the proxy's).
AXES_CLIENT_IP_CALLABLE = "kapstone.audit.middleware.client_ip"
# One address's failed sign-ins across every username, in the same cool-off time: per username alone, someone
# trying one common password on every username (spraying) was never stopped. Far above what a clinic's staff behind
# one address get wrong in half an hour, so their shared address is not locked by a few slips.
SIGN_IN_ADDRESS_FAILURE_LIMIT = envint("KAPSTONE_SIGN_IN_ADDRESS_FAILURE_LIMIT", 50)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
# axes.W006 asks for IP-based lockout as well; we lock per username on purpose (above), and a rotated
# user agent or cookie does not reset a username's failure count.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# Idle sessions end: the expiry is pushed forward on every request and lapses after this many minutes.
SESSION_COOKIE_AGE = envint("SESSION_IDLE_MINUTES", 15) * 60
SESSION_SAVE_EVERY_REQUEST = True
# However busy a session is kept, it ends this many hours after its sign-in (accounts.middleware.SessionLifetime):
# a working day, so a copied cookie or a page left open does not stay signed in for ever.
SESSION_ABSOLUTE_HOURS = envint("KAPSTONE_SESSION_ABSOLUTE_HOURS", 12)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

SECURE_COOKIES = envbool("SECURE_COOKIES", not DEMO)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# The one-time notes a page shows after a form ("Sent to Alice Abernathy.") are kept in a signed-in person's session,
# not in a cookie: Django's default writes them into the browser's cookie jar, signed but readable.
MESSAGE_STORAGE = "kapstone.accounts.message_storage.SignedInSessionStorage"
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEMO)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEMO else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
BEHIND_PROXY = envbool("BEHIND_PROXY", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Behind the proxy every request comes from it: the client's address is the one the proxies appended to
# X-Forwarded-For, this many entries from the right (kapstone.audit.middleware.client_ip); none without a proxy.
TRUSTED_PROXY_COUNT = envint("KAPSTONE_TRUSTED_PROXY_COUNT", 1, minimum=1) if BEHIND_PROXY else 0
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEMO else "django.core.mail.backends.smtp.EmailBackend",
)
# For django.core.mail.backends.filebased.EmailBackend: each message lands as a file in this folder.
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
# Seconds a mail server may take to answer before a send gives up (Django waits forever by default). Under gunicorn's
# 30-second worker timeout, so a page that emails a link (a portal invitation, a staff set-up, a password reset
# without a worker) meets a hung server's failure and withdraws the link, instead of being killed mid-send with the
# link left committed and unsent. Workers' patient and staff messages use kapstone.delivery's own timeout.
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 20, minimum=1)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Kapstone <no-reply@kapstone.invalid>")

# Background work: Celery with Redis in production; in-process and eager when REDIS_URL is unset.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"REDIS_URL must start with redis://, rediss:// or unix://, not {REDIS_URL!r}.")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TIMEZONE = "UTC"
# `celery -A kapstone beat` runs the safety-net sweep that sends due messages whose own task was lost (for
# example an eta beyond the broker's visibility timeout); each send is idempotent.
CELERY_BEAT_SCHEDULE = {
    "send-due-notifications": {"task": "kapstone.integration.tasks.send_due_notifications", "schedule": 600.0},
    "send-due-questionnaire-reminders": {
        "task": "kapstone.measures.tasks.send_due_reminders",
        # Shortened by the CI smoke run so a reminder goes out while it watches.
        "schedule": float(envint("KAPSTONE_REMINDER_SWEEP_SECONDS", 3600)),
    },
    # Unacknowledged urgent alerts move down the on-call rota, lost first pages go out, failed pages are retried.
    "escalate-alerts": {"task": "kapstone.alerts.tasks.escalate_alerts", "schedule": 60.0},
    # A creativity task whose time ran out while the patient was away is closed and scored.
    "close-overdue-creativity-tasks": {"task": "kapstone.creativity.tasks.close_overdue_tasks", "schedule": 300.0},
    # A dose whose window task failed, or whose broker was down, still gets its integration window.
    "open-missing-integration-windows": {
        "task": "kapstone.integration.tasks.open_missing_integration_windows",
        "schedule": 600.0,
    },
    # A journal picture a crash left in storage without its row is deleted once it is an hour old.
    "remove-orphan-uploads": {"task": "kapstone.integration.tasks.remove_orphan_uploads", "schedule": 3600.0},
    # The evening before each dosing session its facilitators receive the readiness digest (from the practice's hour).
    "send-readiness-digests": {"task": "kapstone.dosing.tasks.send_readiness_digests", "schedule": 600.0},
    # In the day before each session its patients are reminded, with the video link when it is held by video.
    "send-session-reminders": {"task": "kapstone.messaging.tasks.send_session_reminders", "schedule": 600.0},
    # Sessions that have ended are deleted: their rows name who signed in.
    "clear-expired-sessions": {"task": "kapstone.accounts.tasks.clear_expired_sessions", "schedule": 3600.0},
    # A count discrepancy left open becomes a loss report; its prescriber is reminded daily until it is filed.
    "sweep-loss-reports": {"task": "kapstone.dosing.tasks.sweep_loss_reports", "schedule": 3600.0},
}
KAPSTONE_SMS_PROVIDER = os.environ.get("KAPSTONE_SMS_PROVIDER", "kapstone.delivery.ConsoleSmsProvider")

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("KAPSTONE_TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True

# Operational: the largest form with files a request may send. Every upload field takes one file of at most 5 MB,
# and its form says so when a file is larger; far beyond that (a bigger phone photo still gets the form's message),
# the request is refused before the file reaches the disk (kapstone.untrusted.BoundedUploadHandler).
MAX_UPLOAD_REQUEST_BYTES = envint("KAPSTONE_MAX_UPLOAD_MB", 32) * 1024 * 1024
FILE_UPLOAD_HANDLERS = [
    "kapstone.untrusted.BoundedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = VAR_DIR / "media"

# Uploads go to the local disk (MEDIA_ROOT) unless an S3-compatible bucket is named: several web instances
# on several hosts must see the same files. Static files carry content hashes in production (run
# `kapstone collectstatic` at deploy time); the demo serves them as they are.
S3_BUCKET = os.environ.get("KAPSTONE_S3_BUCKET", "")
if S3_BUCKET:
    _uploads = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": os.environ.get("KAPSTONE_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("KAPSTONE_S3_REGION") or None,
            "access_key": os.environ.get("KAPSTONE_S3_ACCESS_KEY_ID") or None,
            "secret_key": envsecret("KAPSTONE_S3_SECRET_ACCESS_KEY", "") or None,
            "location": os.environ.get("KAPSTONE_S3_PREFIX", "media"),
            # Patient uploads are private: no public ACL, and every link is signed and expires.
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": 300,
            "file_overwrite": False,
        },
    }
else:
    _uploads = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _uploads,
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEMO
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Several web instances share one cache and one session store: Redis when REDIS_URL is set. Sessions are
# written through to the database (cached_db), so a Redis restart signs nobody out; without Redis they stay in
# the database alone, since a per-process cache would let a signed-out session live on in another worker.
# Kapstone's stores are Django's, except that a save which only pushes the idle expiry forward does not wait for
# the disk (kapstone.accounts.sessions says why that is safe).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "kapstone",
        }
    }
    SESSION_ENGINE = "kapstone.accounts.sessions.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    SESSION_ENGINE = "kapstone.accounts.sessions.db"
# The demo serves static files from the apps' folders as they change; production serves the collected ones.
WHITENOISE_USE_FINDERS = DEMO
WHITENOISE_AUTOREFRESH = DEMO

# Emailed account links work once: a portal invitation or a new staff member's set-up for this many hours, a
# password reset for fewer, since whoever reads the mailbox can use it.
PORTAL_INVITATION_HOURS = envint("KAPSTONE_PORTAL_INVITATION_HOURS", 72)
STAFF_SETUP_HOURS = envint("KAPSTONE_STAFF_SETUP_HOURS", 72)
# How long after typing their password staff may change logins, settings or take a research export without typing it
# again (accounts.identity): operational, not clinical.
# At least a minute: with none, the password typed on the confirm page would be stale before the change it confirms.
CONFIRM_IDENTITY_MINUTES = envint("KAPSTONE_CONFIRM_IDENTITY_MINUTES", 15, minimum=1)
PASSWORD_RESET_MINUTES = envint("KAPSTONE_PASSWORD_RESET_MINUTES", 60)
# Messages carrying a link (a portal invitation, a staff set-up link, a password reset, a questionnaire link) that
# Kapstone sends one person in any 24 hours, at most: without a cap a staff member resending, or anyone asking for
# resets, could fill a mailbox. Not a clinical number: an operational limit far above what one person needs.
LINK_MESSAGES_PER_DAY = envint("KAPSTONE_LINK_MESSAGES_PER_DAY", 5)
if not 1 <= LINK_MESSAGES_PER_DAY <= 50:
    raise ImproperlyConfigured(f"KAPSTONE_LINK_MESSAGES_PER_DAY must be from 1 to 50, not {LINK_MESSAGES_PER_DAY}.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"without_url_secrets": {"()": "kapstone.audit.url_secrets.WithoutUrlSecrets"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # Django's lines about refused requests name their path: a link's secret in it is written out.
    "loggers": {"django.request": {"filters": ["without_url_secrets"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
