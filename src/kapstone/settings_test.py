"""Settings for the test suite: the demo defaults, with a fast password hasher and eager tasks."""

import os

os.environ.setdefault("KAPSTONE_DEMO", "1")

from kapstone.settings import *  # noqa: E402,F403

# Argon2 is deliberately slow; the suite creates many users. tests/foundation/test_practice.py checks production
# uses Argon2.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AXES_ENABLED = True
CELERY_TASK_ALWAYS_EAGER = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The planner's search is bounded by CP-SAT's deterministic time (work done, not seconds), so a loaded machine cannot
# turn a plan into "gave up"; tests/program/conftest.py uses the same for direct solver calls. One worker: CP-SAT's
# parallel workers race each other, so with two the same request could get a different plan from run to run.
PLANNER_SOLVER = {"num_workers": 1, "deterministic_time": 10.0, "max_time_in_seconds": 600.0}
