"""Child processes for the kill tests: Django programs run against a throwaway practice (its own database and
files), so that one can be killed -9 while the test process watches and its data checked by another."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]
# This checkout's code, then the repository root for the tests' helpers: without the first, a child would import
# whichever kapstone the virtual environment has installed.
PYTHONPATH = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
WAIT_SECONDS = 120  # for a child to reach the point where it is killed, or to finish, on a loaded machine
PRELUDE = """
import datetime, json, os, sys
import django
django.setup()
from django.utils import timezone
from kapstone.integration import selectors, services
from kapstone.integration.models import JournalEntry, Notification, NotificationPreference
from kapstone.patients.models import Patient
"""


class Practice(NamedTuple):
    folder: Path  # its files (uploads, logs)
    env: dict[str, str]  # the environment its processes run in: its database, its keys


def environment(base: Mapping[str, str] | None = None, **settings: str) -> dict[str, str]:
    """A child's environment: `base` (by default the test's own) with `settings`, without what would reach a
    shared service (a broker) or another checkout's code."""
    env = {**(os.environ if base is None else base), "DJANGO_SETTINGS_MODULE": "kapstone.settings"}
    env.update(PYTHONPATH=PYTHONPATH, **settings)
    for name in ("REDIS_URL", "CELERY_TASK_ALWAYS_EAGER"):
        env.pop(name, None)
    return env


def migrate(database_url: str, folder: Path) -> None:
    # The system checks are lint's and the deploy check's job; here they would only add a fifth to the migration.
    command = [sys.executable, "-m", "kapstone", "migrate", "-v", "0", "--skip-checks"]
    env = environment(KAPSTONE_DEMO="1", DATABASE_URL=database_url, KAPSTONE_VAR_DIR=str(folder))
    subprocess.run(command, env=env, cwd=ROOT, check=True, timeout=WAIT_SECONDS * 2)


def child(practice: Practice, code: str, **extra_env) -> subprocess.Popen:
    script = PRELUDE + textwrap.dedent(code)
    return subprocess.Popen(
        [sys.executable, "-c", script], env={**practice.env, **extra_env}, cwd=ROOT, stdout=subprocess.PIPE, text=True
    )


def run(practice: Practice, code: str, **extra_env) -> str:
    process = child(practice, code, **extra_env)
    out, _ = process.communicate(timeout=WAIT_SECONDS)
    assert process.returncode == 0, out
    return out.strip()


def killed_when(process: subprocess.Popen, ready) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not ready():
        assert process.poll() is None, "the child ended before it could be killed"
        assert time.monotonic() < deadline, "the child never reached the point to kill it at"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


# After a kill: every journal entry has its audit row and its picture, the audit chain verifies, and the sweep
# removes the pictures a killed save left without their row. Prints the chain's verdict, then the entries' count.
JOURNAL_CONSISTENT = """
from django.core.management import call_command
from kapstone.audit.models import AuditEvent
entries = list(JournalEntry.objects.values_list("pk", flat=True))
audited = set(AuditEvent.objects.filter(object_type="journal_entry").values_list("object_id", flat=True))
assert {str(pk) for pk in entries} == audited, "an entry without its audit row, or the other way round"
call_command("verify_audit")
later = timezone.now() + selectors.ORPHAN_UPLOAD_GRACE + datetime.timedelta(minutes=1)
assert selectors.journal_uploads_check(now=later).missing == [], "an entry whose picture is not in storage"
services.journal_orphan_uploads_remove(now=later)
assert selectors.journal_uploads_check(now=later) == selectors.UploadsCheck(missing=[], orphans=[])
print(len(entries))
"""
