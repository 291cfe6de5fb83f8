"""Production settings: shared cache and sessions with Redis, uploads on S3 when a bucket is named, hashed static
files, and a missing or unusable variable stops start-up naming it."""

import json
import os
import subprocess
import sys

import pytest

PRODUCTION_ENV = {
    "PATH": os.environ["PATH"],
    # The child imports the Kapstone under test (a worktree's src), not whichever one is installed.
    "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    "SECRET_KEY": "x" * 64,
    "KAPSTONE_RESEARCH_ID_KEY": "r" * 40,
    "KAPSTONE_NOTES_KEY": "ZGVtby1vbmx5LW5vdGVzLWtleS0zMmJ5dGVzLWxvbmc=",
    "ALLOWED_HOSTS": "kap.example",
    "KAPSTONE_WEBAUTHN_RP_ID": "kap.example",
    "KAPSTONE_WEBAUTHN_RP_NAME": "Example Practice",
    "KAPSTONE_SITE_URL": "https://kap.example",
    "DATABASE_URL": "sqlite:////tmp/kapstone-settings-check.sqlite3",
}
SHOW = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'cache': s.CACHES['default']['BACKEND'], 'sessions': s.SESSION_ENGINE, "
    "'uploads': s.STORAGES['default']['BACKEND'], 'static': s.STORAGES['staticfiles']['BACKEND'], "
    "'options': s.STORAGES['default'].get('OPTIONS', {})}))"
)


def settings_under(env: dict) -> subprocess.CompletedProcess:
    script = "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'kapstone.settings'; " + SHOW
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)


def test_passkeys_belong_to_the_host_the_practice_is_served_under():
    script = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'kapstone.settings'; import json, django; django.setup(); "
        "from django.conf import settings as s; "
        "print(json.dumps([s.OTP_WEBAUTHN_RP_ID, s.OTP_WEBAUTHN_RP_NAME, s.OTP_WEBAUTHN_ALLOWED_ORIGINS, "
        "s.OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN]))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script], env=PRODUCTION_ENV, capture_output=True, text=True, timeout=120
    )
    assert json.loads(shown.stdout) == ["kap.example", "Example Practice", ["https://kap.example"], False]


def test_without_redis_sessions_stay_in_the_database_and_uploads_on_disk():
    shown = json.loads(settings_under(PRODUCTION_ENV).stdout)
    assert shown["sessions"] == "kapstone.accounts.sessions.db"
    assert shown["uploads"] == "django.core.files.storage.FileSystemStorage"
    assert shown["static"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"


def test_with_redis_every_instance_shares_the_cache_and_sessions():
    shown = json.loads(settings_under({**PRODUCTION_ENV, "REDIS_URL": "redis://redis:6379/0"}).stdout)
    assert shown["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert shown["sessions"] == "kapstone.accounts.sessions.cached_db"


def test_a_bucket_puts_uploads_on_s3_compatible_storage_privately():
    env = {**PRODUCTION_ENV, "KAPSTONE_S3_BUCKET": "kap-uploads", "KAPSTONE_S3_ENDPOINT_URL": "https://s3.example"}
    shown = json.loads(settings_under(env).stdout)
    assert shown["uploads"] == "storages.backends.s3.S3Storage"
    assert shown["options"]["bucket_name"] == "kap-uploads" and shown["options"]["default_acl"] is None
    assert shown["options"]["querystring_auth"] is True


@pytest.mark.parametrize(
    "change,named",
    [
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS is not set"),
        ({"DEBUG": "1"}, "DEBUG is on outside demo mode"),
        ({"SECRET_KEY": "changeme"}, "SECRET_KEY must be at least 50 characters"),
        ({"SECRET_KEY": "demo-only-secret-key-not-for-production-use-0123456789abcdef"}, "SECRET_KEY is the demo's"),
        ({"DATABASE_URL": "mysq1://nowhere"}, "DATABASE_URL is not a database address"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL must start with redis://"),
        ({"KAPSTONE_NOTES_KEY": ""}, "KAPSTONE_NOTES_KEY is not set"),
        ({"KAPSTONE_WEBAUTHN_RP_ID": ""}, "KAPSTONE_WEBAUTHN_RP_ID is not set"),
        ({"KAPSTONE_WEBAUTHN_RP_NAME": ""}, "KAPSTONE_WEBAUTHN_RP_NAME is not set"),
        ({"KAPSTONE_WEBAUTHN_RP_ID": "https://kap.example:443"}, "KAPSTONE_WEBAUTHN_RP_ID must be the bare host name"),
        ({"KAPSTONE_WEBAUTHN_ORIGINS": "http://kap.example"}, "KAPSTONE_WEBAUTHN_ORIGINS must list https://"),
        ({"KAPSTONE_SITE_URL": ""}, "KAPSTONE_SITE_URL is not set"),
        ({"KAPSTONE_SITE_URL": "http://kap.example"}, "KAPSTONE_SITE_URL must be the https:// address"),
    ],
)
def test_a_missing_or_unusable_variable_stops_start_up_naming_it(change, named):
    result = subprocess.run(
        [sys.executable, "-m", "kapstone", "check"],
        env={**PRODUCTION_ENV, **change},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and named in result.stderr and "Traceback" not in result.stderr
