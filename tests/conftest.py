"""Shared test fixtures: the alice/bob/charlie cast, extended to every role Kapstone has.

- alice: a patient, with a portal login;
- bob: a prescriber on alice's care team (allowed), with a therapist and a nurse beside him;
- charlie: a prescriber NOT on alice's care team (gets 404 for alice's records);
- admin, researcher; and dana, another patient (gets 404 for alice's things).
"""

import datetime
import fcntl
import os
import sqlite3
from dataclasses import dataclass
from importlib import import_module

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.http import HttpRequest
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import settings as hypothesis_settings

from kapstone.accounts.roles import STAFF_ROLES, Role
from kapstone.accounts.sessions import db as session_store
from kapstone.home import demo as practice_demo
from kapstone.patients.models import CareTeamMembership, Diagnosis, Patient
from tests.faults.processes import migrate

# Property tests judge what is computed, never how fast: a per-example deadline fails at random on a loaded machine
# (CI runs two suites beside other work). Speed is shown by `make bench`, not asserted in tests.
# The suite draws the same examples on every run (derandomize), so CI tries exactly what passed here and a red build
# always names a change, never a lucky draw. `make fuzz` draws fresh examples on each run to find new faults; each
# one found becomes a fixed value in the strategy it came from, so the suite tries it from then on.
hypothesis_settings.register_profile("kapstone", deadline=None, derandomize=True)
hypothesis_settings.register_profile("explore", deadline=None)
hypothesis_settings.load_profile(os.environ.get("KAPSTONE_HYPOTHESIS_PROFILE", "kapstone"))


# The longest files run first. `make test` gives a worker a whole file at a time (--dist loadfile), so a long file
# handed out last keeps one worker busy after the other has run out of files. Ordered by their times in a run of the
# whole suite (pytest --durations=0, summed by file), longest first; the rest keep pytest-django's order.
LONGEST_FILES = [
    "tests/browser/test_accessibility.py",
    "tests/test_security_probes_round3.py",
    "tests/test_security_probes.py",
    "tests/test_permission_matrix.py",
    "tests/faults/test_view_fuzz.py",
    "tests/test_security_probes_round7.py",
    "tests/creativity/test_creativity_cli.py",
    "tests/program/test_views.py",
    "tests/program/test_services.py",
    "tests/program/test_scheduling.py",
    "tests/foundation/test_svgchart_drawing.py",
    "tests/faults/test_form_fuzz.py",
    "tests/outcomes/test_suppression_under_filters.py",
    "tests/faults/test_kill_server.py",
    "tests/faults/test_kill.py",
    "tests/test_audit_coverage.py",
    "tests/creativity/test_creativity_scoring.py",
    "tests/test_security_probes_round2.py",
    "tests/operations/test_production_settings.py",
]


def pytest_collection_modifyitems(items):
    rank = {path: place for place, path in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.partition("::")[0], len(rank)))


@dataclass
class Cast:
    admin: object
    bob: object
    therapist: object
    nurse: object
    charlie: object
    researcher: object
    alice_user: object
    dana_user: object
    alice: Patient
    dana: Patient

    def user(self, role_name: str):
        return getattr(self, role_name)

    def dosing_session(self):
        """A dosing session today of a group holding alice and two others; bob and the therapist facilitate."""
        from kapstone.program.models import Enrolment, Group, GroupSession, Room

        existing = GroupSession.objects.filter(group__name="Tuesday group", kind=GroupSession.Kind.DOSING).first()
        if existing:
            return existing
        group = Group.objects.create(
            name="Tuesday group",
            template_id="journey-clinical-style",
            template_version=1,
            min_size=3,
            max_size=4,
            start_date=datetime.date.today(),
        )
        room = Room.objects.create(name="Willow room", capacity=4)
        now = timezone.now()
        session = GroupSession.objects.create(
            group=group,
            kind=GroupSession.Kind.DOSING,
            number=1,
            starts_at=now,
            ends_at=now + datetime.timedelta(hours=3),
            room=room,
        )
        session.facilitators.set([self.bob, self.therapist])
        others = [make_patient(f"Member{i}", "Group", team=[self.bob, self.therapist, self.nurse]) for i in range(2)]
        for patient in [self.alice, *others]:
            Enrolment.objects.create(group=group, patient=patient, status=Enrolment.Status.ENROLLED)
        return session


def make_user(username: str, role: str, **extra):
    if role in STAFF_ROLES:
        # A staff login has its owner's work address, where set-up links go (accounts.services.staff_create).
        extra.setdefault("email", f"{username}@practice.example")
    user = get_user_model().objects.create_user(
        username=username, password="correct-horse-battery", role=role, first_name=username.title(), **extra
    )
    if user.is_staff_member:
        TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    return user


def make_patient(given: str, family: str, *, user=None, team=()) -> Patient:
    patient = Patient.objects.create(
        given_name=given,
        family_name=family,
        date_of_birth=datetime.date(1980, 5, 17),
        user=user,
        email=f"{given.lower()}@mail.example",
        phone="555-0100",
    )
    for index, member in enumerate(team):
        CareTeamMembership.objects.create(patient=patient, staff=member, is_lead=index == 0)
    Diagnosis.objects.create(patient=patient, icd10_code="F33.2", description="MDD, recurrent severe", is_primary=True)
    return patient


# The cast as make_user and make_patient make them, in one INSERT a table: most tests ask for the cast, and its twenty
# rows saved one at a time were a fifth of what a permission-matrix test cost (issue: CI time). The same rows, fields
# and password as the one-at-a-time path; only the statements differ.
CAST_USERS = [
    ("admin", Role.ADMIN),
    ("bob", Role.PRESCRIBER),
    ("theo", Role.THERAPIST),
    ("nina", Role.NURSE),
    ("charlie", Role.PRESCRIBER),
    ("rhea", Role.RESEARCHER),
    ("alice", Role.PATIENT),
    ("dana", Role.PATIENT),
]
CAST_PASSWORD = "correct-horse-battery"
_cast_password_hash: list[str] = []


def _cast_password() -> str:
    """The test password hashed once a process (a salted hash of the same password, as create_user would store)."""
    if not _cast_password_hash:
        _cast_password_hash.append(make_password(CAST_PASSWORD))
    return _cast_password_hash[0]


def _cast_in_bulk() -> Cast:
    User = get_user_model()
    users = [
        User(
            username=username,
            password=_cast_password(),
            role=role,
            first_name=username.title(),
            email=f"{username}@practice.example" if role in STAFF_ROLES else "",
            is_staff=False,
            is_superuser=False,
        )
        for username, role in CAST_USERS
    ]
    User.objects.bulk_create(users)
    TOTPDevice.objects.bulk_create(
        TOTPDevice(user=user, name="test", confirmed=True) for user in users if user.is_staff_member
    )
    admin, bob, therapist, nurse, charlie, researcher, alice_user, dana_user = users
    alice, dana = Patient.objects.bulk_create(
        [
            Patient(
                given_name=given,
                family_name=family,
                date_of_birth=datetime.date(1980, 5, 17),
                user=user,
                email=f"{given.lower()}@mail.example",
                phone="555-0100",
            )
            for given, family, user in [("Alice", "Abernathy", alice_user), ("Dana", "Delacroix", dana_user)]
        ]
    )
    CareTeamMembership.objects.bulk_create(
        CareTeamMembership(patient=patient, staff=member, is_lead=index == 0)
        for patient, team in [(alice, [bob, therapist, nurse]), (dana, [charlie])]
        for index, member in enumerate(team)
    )
    Diagnosis.objects.bulk_create(
        Diagnosis(patient=patient, icd10_code="F33.2", description="MDD, recurrent severe", is_primary=True)
        for patient in (alice, dana)
    )
    return Cast(admin, bob, therapist, nurse, charlie, researcher, alice_user, dana_user, alice, dana)


@pytest.fixture
def cast(db) -> Cast:
    if transaction.get_connection().in_atomic_block:
        # The test's writes are rolled back, so the post_save receivers bulk_create skips (the outcome report's
        # change records, written on commit) would never have run.
        return _cast_in_bulk()
    admin = make_user("admin", Role.ADMIN)
    bob = make_user("bob", Role.PRESCRIBER)
    therapist = make_user("theo", Role.THERAPIST)
    nurse = make_user("nina", Role.NURSE)
    charlie = make_user("charlie", Role.PRESCRIBER)
    researcher = make_user("rhea", Role.RESEARCHER)
    alice_user = make_user("alice", Role.PATIENT)
    dana_user = make_user("dana", Role.PATIENT)
    alice = make_patient("Alice", "Abernathy", user=alice_user, team=[bob, therapist, nurse])
    dana = make_patient("Dana", "Delacroix", user=dana_user, team=[charlie])
    return Cast(admin, bob, therapist, nurse, charlie, researcher, alice_user, dana_user, alice, dana)


def signed_in_client(user, *, csrf_checks: bool = False) -> Client:
    """A client signed in as the user, with two-factor already passed for staff.

    As Client.force_login signs in, with the verified device put in the session before the sign-in rather than in a
    second load and save after it (force_login also saves an empty session first, which signing in then replaces)."""
    client = Client(enforce_csrf_checks=csrf_checks)
    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        request.session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    user.backend = client._get_backend()
    login(request, user, user.backend)
    request.session.save()
    client._set_login_cookies(request)
    return client


@pytest.fixture
def client_for(cast):
    return lambda user: signed_in_client(user)


@pytest.fixture(autouse=True)
def session_expiry_pushes_held(monkeypatch):
    """No request pushes its session's idle expiry forward: the wall clock cannot change how many queries a request
    makes. A signed-in request pushes it when more than EXPIRY_PUSH_SLACK (10 seconds) has passed since the last push
    (kapstone.accounts.sessions.db), three statements more in a test (a savepoint, the session's update and its
    release); on a loaded machine more than that passes between two identical requests, and a test comparing their
    query counts failed now and then with 14 against 11. Here every session's expiry counts as just pushed (the
    method, not the slack: the idle warning reads the slack's value once). tests/foundation/test_sessions.py tests
    the push itself on the real clock; "Stay signed in" and any change to a session still save it."""
    monkeypatch.setattr(session_store.SessionStore, "_expiry_is_recent", lambda self: True)


@pytest.fixture(scope="module")
def demo_practice(django_db_setup, django_db_blocker):
    """The demo practice (17 patients), built once for a module's tests since building it takes longer than they do.

    It lives in a transaction kept open for the module and rolled back after it; each test that asks for `db` runs
    in a savepoint inside that transaction (pytest-django nests its atomic block), so a test's own writes are rolled
    back before the next test and every test sees the practice exactly as built. Tests that commit for real
    (transaction=True) cannot use it."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            practice = practice_demo.build(patients=17)
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    yield practice
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker, tmp_path_factory):
    """pytest-django's test database; on SQLite a copy of it, just migrated, is kept as this process's
    migrated_sqlite, so that fixture need not run the migrations again in a child process."""
    if connection.vendor == "sqlite":
        folder = tmp_path_factory.getbasetemp() / "migrated-by-pytest-django"
        folder.mkdir(exist_ok=True)
        with django_db_blocker.unblock():
            connection.ensure_connection()
            copy = sqlite3.connect(folder / "kapstone.sqlite3")
            try:
                connection.connection.backup(copy)
            finally:
                copy.close()


@pytest.fixture(scope="session")
def migrated_sqlite(request, tmp_path_factory):
    """A migrated SQLite database, made once a run: each test that runs processes on a file of its own (the kill
    tests, the audit chain's concurrent appends) starts from a copy, since migrating takes longer than the test
    itself. When the suite runs on SQLite it is the copy django_db_setup kept of the test database (the same
    migrations, just applied). Otherwise it is migrated here, and under pytest-xdist the workers share the run's
    temporary folder, so the first worker to need it migrates while the other waits for it instead of migrating too."""
    if connection.vendor == "sqlite":
        request.getfixturevalue("django_db_setup")
        return tmp_path_factory.getbasetemp() / "migrated-by-pytest-django" / "kapstone.sqlite3"
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder = root / "migrated"
    folder.mkdir(exist_ok=True)
    database = folder / "kapstone.sqlite3"
    done = folder / "done"
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            migrate(f"sqlite:///{database}", folder)
            done.touch()
    return database
