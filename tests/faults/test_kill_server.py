"""kill -9 of the production server (the gunicorn master and its workers, the whole process group) while a signed-in
patient saves journal entries with pictures and a signed-in prescriber (password and TOTP code) records
questionnaires, all through HTTP. After a restart every write the server answered as saved is there exactly once,
none is half-written, the audit chain verifies, the sweep removes any orphan picture, and the server serves the
same people again (issue 16, item 8)."""

import http.client
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import threading
import time
import urllib.parse
from collections import Counter

import pytest
from django.db import connection

from tests import scripts
from tests.faults.processes import JOURNAL_CONSISTENT, WAIT_SECONDS, Practice, child, environment, run
from tests.integration_app.factories import png_bytes

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]
bench_load, smoke = scripts.load("bench_load"), scripts.load("smoke")
SAVED_BEFORE_THE_KILL = 3  # writes the server answered as saved, by each writer
PASSWORD = "correct-horse-battery"  # tests.conftest.make_user's
PICTURE = {"image": ("drawing.png", "image/png", png_bytes(size=(64, 64)))}

PEOPLE = """
import base64
from tests.conftest import make_patient, make_user
from kapstone.accounts.roles import Role
prescriber = make_user("dr.kill", Role.PRESCRIBER)
patient = make_patient("Kill", "Server", user=make_user("kill.patient", Role.PATIENT), team=[prescriber])
device = prescriber.totpdevice_set.get()
print(json.dumps({"patient_id": patient.pk, "totp_secret": base64.b32encode(device.bin_key).decode()}))
"""
WHAT_WAS_SAVED = """
from kapstone.audit.models import AuditEvent
from kapstone.measures.models import Assessment
events = AuditEvent.objects.filter(object_type="assessment")
created = set(events.filter(action="create").values_list("object_id", flat=True))
submitted = {e.object_id for e in events.filter(action="update") if json.loads(e.detail)["submitted"]}
print(json.dumps({
    "journal": list(JournalEntry.objects.values_list("text", flat=True)),
    "assessments": [
        {
            "id": a.pk, "status": a.status, "answers": len(a.answers), "total": a.total, "scored": a.result is not None,
            "created_audited": str(a.pk) in created, "submitted_audited": str(a.pk) in submitted,
        }
        for a in Assessment.objects.all()
    ],
}))
"""


class CutOff(Exception):
    """The server went away before it answered."""


class Refused(Exception):
    """The server answered, and not with a save."""


class Writer:
    """One signed-in person writing in a loop, sorting each write by the server's answer: saved (a redirect),
    cut off by the kill (saved or not, but never twice), or refused (anything else: there must be none)."""

    def __init__(self, browser, write):
        self.browser, self.write = browser, write
        self.numbers = itertools.count()
        self.saved: list[tuple] = []
        self.cut_off: list[tuple] = []
        self.refused: list[str] = []
        self.stop = threading.Event()

    def post(self, what: tuple, path: str, data: dict, files: dict | None = None) -> str:
        """Sends one write, named `what`; returns the path the server redirected to once it saved it."""
        try:
            status, location, text = self.browser.request(path, data, files)
        except (OSError, http.client.HTTPException):
            self.cut_off.append(what)
            raise CutOff from None
        if status != 302:
            self.refused.append(f"{what}: {status} {text[:400]}")
            raise Refused(self.refused[-1])
        self.saved.append(what)
        return urllib.parse.urlparse(location).path

    def once(self) -> None:
        self.write(self, next(self.numbers))

    def until_stopped(self) -> None:
        try:
            while not self.stop.is_set():
                self.once()
        except (CutOff, Refused):
            return

    def kind(self, outcomes: list[tuple], kind: str) -> list:
        return [key for what, key in outcomes if what == kind]


def journal_entry(writer: Writer, n: int) -> None:
    fields = {"prompt": "free", "text": f"entry {n}", "activity": "drawing", "activity_minutes": "5"}
    writer.post(("journal", f"entry {n}"), "/integration/journal/new/", fields, PICTURE)


def questionnaire(patient_id: int):
    """Starts a PHQ-9 for the patient and submits it with every item answered."""
    answers: dict[str, str] = {}

    def write(writer: Writer, n: int) -> None:
        form = writer.post(("started", n), f"/measures/patient/{patient_id}/start/", {"start-instrument": "phq9"})
        if not answers:
            page = writer.browser.get(form)
            for name, value in re.findall(r'<input[^>]*type="radio"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page):
                answers.setdefault(name, value)
        assessment_id = int(re.search(r"/assessment/(\d+)/", form).group(1))
        writer.post(("submitted", assessment_id), form, {**answers, "action": "submit"})

    return write


@pytest.fixture
def server_practice(request, tmp_path):
    """Production settings (throwaway keys, plain HTTP on the loopback as in scripts/smoke_stack.sh) on a
    throwaway SQLite file, or on the test database when the suite runs on PostgreSQL."""
    if connection.vendor == "postgresql":
        # pytest-django's test database, migrated already; the transactional test empties it afterwards.
        db = connection.settings_dict
        login = urllib.parse.quote(db["USER"]) + (f":{urllib.parse.quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
        database_url = f"postgres://{login}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
    else:
        shutil.copy(request.getfixturevalue("migrated_sqlite"), tmp_path / "kapstone.sqlite3")
        database_url = f"sqlite:///{tmp_path / 'kapstone.sqlite3'}"
    env = environment(
        bench_load.run_environment(database_url, str(tmp_path), secrets.token_hex(16)),
        SECURE_SSL_REDIRECT="0",
        SECURE_COOKIES="0",
        SECURE_HSTS_SECONDS="0",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    practice = Practice(tmp_path, env)
    bench_load.collect_static(env)
    return practice


def test_the_server_killed_mid_write_keeps_every_answered_write_once_and_none_half_written(server_practice):
    people = child(server_practice, PEOPLE)  # while the server starts
    port = bench_load.free_port()
    base = f"http://127.0.0.1:{port}"
    server = bench_load.start_server(server_practice.env, port, workers=2)
    try:
        out, _ = people.communicate(timeout=WAIT_SECONDS)
        people = json.loads(out.splitlines()[-1])
        patient, prescriber = smoke.Browser(base, "patient"), smoke.Browser(base, "prescriber")
        smoke.sign_in(patient, "kill.patient", PASSWORD, expect_to="/portal/")
        smoke.sign_in(prescriber, "dr.kill", PASSWORD, expect_to="/home/", totp_secret=people["totp_secret"])
        # A form's token for each: signing in changed it.
        patient.get("/integration/journal/new/")
        prescriber.get(f"/measures/patient/{people['patient_id']}/")
        writers = [Writer(patient, journal_entry), Writer(prescriber, questionnaire(people["patient_id"]))]
        threads = [threading.Thread(target=writer.until_stopped, daemon=True) for writer in writers]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + WAIT_SECONDS
        while not all(len(writer.saved) >= SAVED_BEFORE_THE_KILL for writer in writers):
            assert all(thread.is_alive() for thread in threads), [writer.refused for writer in writers]
            assert time.monotonic() < deadline, "the writers never saved enough to kill the server under them"
            time.sleep(0.05)
        # Killed the moment a worker has stored a picture: its entry's row is most likely not committed yet.
        pictures = server_practice.folder / "media" / "journal"
        stored = len(os.listdir(pictures))
        while len(os.listdir(pictures)) == stored:
            assert time.monotonic() < deadline, "the patient's writer stopped saving pictures"
            time.sleep(0.001)
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        for writer in writers:
            writer.stop.set()
        for thread in threads:
            thread.join(WAIT_SECONDS)
            assert not thread.is_alive(), "a writer still waits for the killed server"
        server = bench_load.start_server(server_practice.env, port, workers=2)
        assert json.loads(smoke.Browser(base, "anyone").get("/healthz")) == {"status": "ok", "database": "ok"}
        # The same people, still signed in, write again.
        for writer in writers:
            writer.once()
    finally:
        bench_load.stop_server(server)

    journal, staff = writers
    assert journal.refused == [] and staff.refused == []
    verified, journal_rows, saved = run(server_practice, JOURNAL_CONSISTENT + WHAT_WAS_SAVED).splitlines()[-3:]
    assert verified.startswith("Audit trail intact")
    saved = json.loads(saved)
    entries = Counter(saved["journal"])
    assert int(journal_rows) == len(saved["journal"]) >= SAVED_BEFORE_THE_KILL + 1
    assert all(entries[text] == 1 for text in journal.kind(journal.saved, "journal"))
    assert set(entries) <= set(journal.kind(journal.saved + journal.cut_off, "journal"))
    assert max(entries.values()) == 1

    assessments = {a["id"]: a for a in saved["assessments"]}
    started, cut_off_starts = staff.kind(staff.saved, "started"), staff.kind(staff.cut_off, "started")
    assert len(started) <= len(assessments) <= len(started) + len(cut_off_starts)
    assert set(staff.kind(staff.saved + staff.cut_off, "submitted")) <= set(assessments)
    assert all(assessments[pk]["status"] == "completed" for pk in staff.kind(staff.saved, "submitted"))
    for assessment in assessments.values():
        assert assessment["created_audited"], assessment
        if assessment["status"] == "completed":
            assert assessment["answers"] == 9 and assessment["total"] is not None and assessment["scored"], assessment
            assert assessment["submitted_audited"], assessment
        else:
            assert assessment["answers"] == 0 and not assessment["scored"], assessment
            assert not assessment["submitted_audited"], assessment
