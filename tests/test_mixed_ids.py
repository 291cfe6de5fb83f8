"""Every URL pattern with two or more ids, asked with ids of two patients mixed: one the requester may see (A) and
one they may not (B). The permission matrix asks each pattern with ids that all belong together; here a parent the
requester may open must not lead to a child of someone else's, nor the other way round. Each mix is "not found"
for every role the page lets through, and nothing is written but the audit trail and the session.
"""

import datetime
import hashlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection
from django.urls import get_resolver, reverse
from django.utils import timezone

from kapstone.billing import services as billing_services
from kapstone.measures import services as measures_services
from kapstone.messaging import services as messaging_services
from kapstone.program.models import Enrolment, Group, GroupSession
from tests.conftest import Cast, signed_in_client
from tests.creativity.factories import due_task
from tests.measures.factories import due_assessment
from tests.test_permission_matrix import ROUTES, url_patterns_named

# What may change when a page is only asked: who asked (audit), the session, the login-failure log.
UNWATCHED_TABLE_PREFIXES = ("audit_", "django_session", "axes_")


def _dosing_session_of_dana(cast: Cast) -> GroupSession:
    """A dosing session today of a group holding dana alone, facilitated by charlie (her care team)."""
    group = Group.objects.create(
        name="Thursday group",
        template_id="journey-clinical-style",
        template_version=1,
        min_size=1,
        max_size=4,
        start_date=datetime.date.today(),
    )
    Enrolment.objects.create(group=group, patient=cast.dana, status=Enrolment.Status.ENROLLED)
    now = timezone.now()
    session = GroupSession.objects.create(
        group=group, kind=GroupSession.Kind.DOSING, number=1, starts_at=now, ends_at=now + datetime.timedelta(hours=3)
    )
    session.facilitators.set([cast.charlie])
    return session


def _records_of(cast: Cast, patient, *, clinician, session: GroupSession, administration) -> dict[str, int]:
    """The id of each kind of row the multi-id patterns name, of one patient."""
    entered = measures_services.assessment_record_total(
        actor=clinician,
        patient=patient,
        instrument_id="bdi-ii",
        total=12,
        completed_on=datetime.date.today(),
        items={9: 0},
    )
    payment = billing_services.payment_record(
        actor=cast.admin, patient=patient, amount=Decimal("100.00"), method="card", on_date=datetime.date.today()
    )
    thread = messaging_services.thread_start(actor=patient.user, patient=patient, subject="Hello", body="Hi").thread
    return {
        "patient": patient.pk,
        "diagnosis": patient.diagnoses.get().pk,
        "entered_total": entered.pk,
        "assessment": due_assessment(patient).pk,
        "administration": administration.pk,
        "session": session.pk,
        "payment": payment.pk,
        "thread": thread.pk,
    }


# Each multi-id pattern: its URL's ids as (kwarg, kind of row), the parent first, and its other arguments.
MULTI_ID = {
    "patients:part_remove": ([("patient_id", "patient"), ("part_id", "diagnosis")], {"kind": "diagnosis"}),
    "measures:amend_total": ([("patient_id", "patient"), ("assessment_id", "entered_total")], {}),
    "measures:record": ([("patient_id", "patient"), ("assessment_id", "assessment")], {}),
    "dosing:room_action": ([("session_id", "session"), ("patient_id", "patient")], {"action": "note"}),
    "creativity:administration": ([("patient_id", "patient"), ("administration_id", "administration")], {}),
    "billing:refund": ([("patient_id", "patient"), ("entry_id", "payment")], {}),
    "billing:visit_superbill": ([("patient_id", "patient"), ("session_id", "session")], {}),
    "billing:visit_charges": ([("patient_id", "patient"), ("session_id", "session")], {}),
    "billing:visit_superbill_pdf": ([("patient_id", "patient"), ("session_id", "session")], {}),
    "messaging:thread": ([("patient_id", "patient"), ("thread_id", "thread")], {}),
}


def _kwargs(name: str, parent: dict[str, int], child: dict[str, int]) -> dict:
    ids, other = MULTI_ID[name]
    (parent_kwarg, parent_kind), *children = ids
    return {**other, parent_kwarg: parent[parent_kind], **{kwarg: child[kind] for kwarg, kind in children}}


def _digest_queries() -> list[tuple[str, str, tuple]]:
    """Each watched table's rows in key order, as the SQL Django writes for values_list(): built once a process,
    since the security probes read every table after every request and building the ORM query each time cost more
    than running it."""
    if not _DIGEST_QUERIES:
        for model in apps.get_models():
            if not model._meta.db_table.startswith(UNWATCHED_TABLE_PREFIXES):
                sql, params = model._base_manager.order_by("pk").values_list().query.sql_with_params()
                _DIGEST_QUERIES.append((model._meta.db_table, sql, params))
    return _DIGEST_QUERIES


_DIGEST_QUERIES: list[tuple[str, str, tuple]] = []


def _stored(value: object) -> object:
    # PostgreSQL's driver hands a binary column back as a memoryview, whose repr is its address rather than its bytes.
    return bytes(value) if isinstance(value, memoryview) else value


def _rows_digest() -> dict[str, str]:
    """A digest of every watched table's rows as the database stores them: any row written changes its table's."""
    digest = {}
    with connection.cursor() as cursor:
        for table, sql, params in _digest_queries():
            cursor.execute(sql, params)
            rows = [tuple(map(_stored, row)) for row in cursor.fetchall()]
            digest[table] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return digest


def test_every_multi_id_pattern_is_walked():
    patterns = {name for name, route in url_patterns_named(get_resolver().url_patterns) if route.count("<int:") >= 2}
    assert patterns == set(MULTI_ID), "declare how to build each multi-id pattern's ids in MULTI_ID"


@pytest.fixture
def two_patients(cast):
    """alice's rows (bob, the therapist and the nurse look after her) and dana's (charlie looks after her)."""
    # Creativity tasks are never put due on a dosing day: scheduled before each patient's session is.
    alice_task, dana_task = due_task(cast.alice), due_task(cast.dana)
    alice = _records_of(cast, cast.alice, clinician=cast.bob, session=cast.dosing_session(), administration=alice_task)
    dana = _records_of(
        cast, cast.dana, clinician=cast.charlie, session=_dosing_session_of_dana(cast), administration=dana_task
    )
    return alice, dana


def test_ids_of_two_patients_mixed_in_one_url_are_not_found(cast, two_patients):
    alice, dana = two_patients
    # Signed in first: signing in records the time on the user's row.
    readers = {role for name in MULTI_ID for role in ROUTES[name].allow | ROUTES[name].not_found}
    clients = {role: signed_in_client(cast.user(role)) for role in readers}
    before = _rows_digest()
    asked = 0
    for name in sorted(MULTI_ID):
        route = ROUTES[name]
        for role in sorted(route.allow | route.not_found):
            # Each role's own patient (A) and another's (B): charlie looks after dana, not alice.
            own, other = (dana, alice) if role == "charlie" else (alice, dana)
            mixes = {"A's parent, B's child": (own, other), "B's parent, A's child": (other, own)}
            if role != "admin":  # an admin may see every patient, so B's rows alone are theirs to open
                mixes["B's parent and child"] = (other, other)
            client = clients[role]
            for mix, (parent, child) in mixes.items():
                url = reverse(name, kwargs=_kwargs(name, parent, child))
                for method in ("get", "post"):
                    status = getattr(client, method)(url).status_code
                    # 405: the pattern does not take this method, and says so before looking anything up.
                    expected = (404,) if method == route.method else (404, 405)
                    asked += 1
                    assert status in expected, f"{role} {method.upper()} {name} with {mix}: {status}"
    assert _rows_digest() == before, "a request with mixed ids changed a row"
    assert asked > 200


def test_the_walks_ids_do_open_their_pages_when_they_belong_together(cast, two_patients):
    """The 404s above are the mix's doing: the same ids, each patient's together, reach the page."""
    alice, dana = two_patients
    for name in sorted(MULTI_ID):
        route = ROUTES[name]
        alices_reader = sorted(route.allow)[0]
        danas_reader = "charlie" if "charlie" in route.allow | route.not_found else "admin"
        for reader, records in ((alices_reader, alice), (danas_reader, dana)):
            url = reverse(name, kwargs=_kwargs(name, records, records))
            status = getattr(signed_in_client(cast.user(reader)), route.method)(url).status_code
            assert status != 404, f"{reader} on {name} with one patient's ids"
