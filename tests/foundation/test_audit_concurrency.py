"""The audit chains under concurrent requests and writes: none forks and the trail still verifies.

On PostgreSQL each thread has its own connection, so the appends really race for the chain heads' row locks. On
SQLite every write transaction takes the database's one write lock up front (transaction_mode IMMEDIATE), which
separate processes sharing one database file exercise.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from kapstone.audit import services as audit
from kapstone.audit.models import AuditChainHead, AuditEvent, AuditEventPatient
from kapstone.audit.verification import verify_chain
from tests.concurrency import all_at_once
from tests.conftest import signed_in_client

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 6


@pytest.fixture
def on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the chain head's row lock is what keeps appends apart on PostgreSQL (CI runs the suite there)")


def events_written_by(call) -> int:
    before = AuditEvent.objects.count()
    call()
    return AuditEvent.objects.count() - before


def test_concurrent_audited_pages_and_writes_keep_unbroken_chains(on_postgresql, cast):
    pages = [
        (signed_in_client(cast.bob), reverse("patients:detail", args=[cast.alice.pk])),
        (signed_in_client(cast.therapist), reverse("patients:list")),
        (signed_in_client(cast.nurse), reverse("patients:detail", args=[cast.alice.pk])),
        (signed_in_client(cast.alice_user), reverse("portal:home")),
    ]
    # What one opening of each page writes, opened one at a time (each writes at least one read).
    per_opening = [events_written_by(lambda c=client, u=url: c.get(u)) for client, url in pages]
    assert all(per_opening)

    def browse(client, url):
        def call():
            for _ in range(ROUNDS):
                assert client.get(url).status_code == 200

        return call

    def write(n):
        def call():
            for i in range(ROUNDS):
                audit.record(
                    action=audit.Action.UPDATE,
                    patient=cast.alice,
                    object_type="concurrency_probe",
                    detail={"writer": n, "i": i, "patient_ids": [cast.alice.pk, cast.dana.pk]},
                )

        return call

    before = AuditEvent.objects.count()
    failures = all_at_once([*(browse(client, url) for client, url in pages), write(1), write(2)])

    assert failures == []
    # Every page's reads and every write are there, and each follows the one before: nothing forked or was lost.
    assert AuditEvent.objects.count() - before == ROUNDS * (sum(per_opening) + 2)
    assert verify_chain() == (AuditEvent.objects.count(), None)
    assert AuditEventPatient.objects.filter(event__object_type="concurrency_probe").count() == 2 * 2 * ROUNDS
    # The appends that met took parallel chains (audit.services); the newest entry is where one of their heads stands.
    newest = AuditEvent.objects.order_by("-id").values_list("id", flat=True)[0]
    assert newest in AuditChainHead.objects.values_list("last_event_id", flat=True)


# --- SQLite: processes sharing one database file ------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
WRITER = """
import os, sys, time
import django
django.setup()
from kapstone.audit import services as audit
open({ready!r}, "w").close()  # Django has started: the test releases the writers together once all three have
while not os.path.exists({go!r}):
    time.sleep(0.01)
for i in range({rounds}):
    with audit.reads_written_before_response():  # as a page is served: several reads, written together
        for n in range(3):
            audit.record(action=audit.Action.READ, patient_id=n, object_type="page_read", detail={{"w": {w}, "i": i}})
    audit.record(action=audit.Action.UPDATE, object_type="write", detail={{"w": {w}, "i": i, "patient_ids": [1, 2]}})
"""
VERIFY = """
import django
django.setup()
from kapstone.audit.models import AuditEvent, AuditEventPatient
from kapstone.audit.verification import verify_chain
checked, broken = verify_chain()
print(checked, broken, AuditEvent.objects.count(), AuditEventPatient.objects.count())
"""


def test_processes_appending_at_once_to_one_sqlite_file_keep_one_unbroken_chain(tmp_path, request):
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("the SQLite run covers SQLite's write lock; the PostgreSQL run covers the row lock above")
    env = {
        **os.environ,
        "KAPSTONE_DEMO": "1",
        "DJANGO_SETTINGS_MODULE": "kapstone.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'kapstone.sqlite3'}",
        "KAPSTONE_VAR_DIR": str(tmp_path),
        # The children import this checkout's code, not whichever copy of Kapstone is installed.
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    # Asked for only here: the PostgreSQL run skips this test and need not migrate a file for it.
    shutil.copy(request.getfixturevalue("migrated_sqlite"), tmp_path / "kapstone.sqlite3")
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{w}" for w in range(3)]
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER.format(ready=str(ready[w]), go=str(go), rounds=ROUNDS, w=w)],
            env=env,
            cwd=ROOT,
        )
        for w in range(3)
    ]
    # Released together once all three have started Django, so their appends overlap (rather than after a fixed
    # wait long enough for the slowest start on a loaded machine).
    deadline = time.monotonic() + 300
    while not all(path.exists() for path in ready):
        assert all(writer.poll() is None for writer in writers), "a writer ended before it was released"
        assert time.monotonic() < deadline, "the writers never started"
        time.sleep(0.01)
    go.touch()
    assert [writer.wait(timeout=300) for writer in writers] == [0, 0, 0]
    verified = subprocess.run(
        [sys.executable, "-c", VERIFY], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    )
    events = 3 * ROUNDS * (3 + 1)
    assert verified.stdout.split() == [str(events), "None", str(events), str(3 * ROUNDS * 2)]
