"""The room reads the practice's dosing and screening settings once a page (dosing.selectors.room_settings) and
gives the enrolment gate the screening settings it read: each answer is the one read on its own would give."""

import datetime
import itertools

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kapstone.accounts.roles import Role
from kapstone.dosing import selectors
from kapstone.patients.models import ExternalClinician
from kapstone.practice.settings_store import practice_overrides, practice_overrides_of, practice_value_set
from kapstone.screening import services
from kapstone.screening.gate import gate_settings, gate_statuses
from kapstone.screening.models import Consultation
from tests.conftest import make_patient, make_user
from tests.screening import helpers

# Practices with no settings of their own, and with dosing and screening settings the room and the gate read.
SETTINGS = [
    {},
    {"dosing.max_doses_per_7_days": 1, "screening.screening_valid_days": 30},
    {"screening.min_age_years": 21, "screening.bp_exclude_systolic_mmhg": 150, "dosing.stop_systolic": 180},
    {"screening.screening_valid_days": 1, "dosing.pregnancy_test_valid_days": 0},
    {"screening.consult_clinician_kinds": ["primary_care"]},
]


def _practice(cast, values: dict) -> None:
    for key, value in values.items():
        practice_value_set(actor=cast.admin, key=key, value=value, reason="A test practice's own value.")


def _outside_team(cast, patient) -> None:
    """An outside psychiatrist never consulted and an outside primary-care doctor who supports KAP."""
    ExternalClinician.objects.create(patient=patient, kind="psychiatrist", name="Dr. Ruth Mendel")
    services.consultation_record(
        actor=cast.bob,
        patient=patient,
        external_clinician=ExternalClinician.objects.create(patient=patient, kind="primary_care", name="Dr. Sam Okoro"),
        staff=cast.bob,
        contacted_at=timezone.now() - datetime.timedelta(days=1),
        method=Consultation.Method.PHONE,
        outcome=Consultation.Outcome.SUPPORTS,
    )


def _patients(cast) -> list:
    """Patients at every state of the gate: not screened, needs review, not eligible, not consulted, advised
    against, without consent, ready, and ready but for an outside psychiatrist whose advice is awaited (their
    primary-care doctor supports KAP)."""
    states = [
        lambda p: None,
        lambda p: helpers.screen(cast, helpers.needs_review_intake(), patient=p),
        lambda p: helpers.screen(cast, helpers.not_eligible_intake(), patient=p),
        lambda p: helpers.screen(cast, patient=p),
        lambda p: (
            helpers.screen(cast, patient=p),
            helpers.consult(cast, p, outcome=Consultation.Outcome.ADVISED_AGAINST),
        ),
        lambda p: (helpers.screen(cast, patient=p), helpers.consult(cast, p)),
        lambda p: helpers.ready_for_enrolment(cast, p),
        lambda p: (helpers.ready_for_enrolment(cast, p), _outside_team(cast, p)),
    ]
    patients = []
    for number, state in enumerate(states):
        login = make_user(f"gate{number}", Role.PATIENT)
        patient = make_patient(f"Gate{number}", "Case", user=login, team=[cast.bob])
        state(patient)
        patients.append(patient)
    return patients


def test_the_room_settings_are_the_ones_each_read_on_its_own_gives(cast):
    for values in SETTINGS:
        _practice(cast, values)
        settings = selectors.room_settings()
        assert settings.limits == selectors.room_thresholds()
        assert settings.gate == gate_settings()
        both = practice_overrides_of("dosing", "screening")
        assert both == {"dosing": practice_overrides("dosing"), "screening": practice_overrides("screening")}


def test_the_gate_judged_by_the_settings_the_room_read_answers_as_the_gate_reading_its_own(cast):
    patients = _patients(cast)
    today = timezone.localdate()
    days = [today, today - datetime.timedelta(days=40), today + datetime.timedelta(days=400)]
    for values, day in itertools.product(SETTINGS, days):
        _practice(cast, values)
        starts = {patients[-1].pk: day - datetime.timedelta(days=20)}
        own = gate_statuses(patients, at=day, course_starts=starts)
        shared = gate_statuses(patients, at=day, course_starts=starts, settings=selectors.room_settings().gate)
        assert shared == own


def test_the_room_reads_the_practice_settings_once(cast, session, ready_record, client_for):
    client = client_for(cast.bob)
    url = reverse("dosing:room", args=[session.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    assert sum('FROM "practice_practicesetting"' in query["sql"] for query in captured) == 1


def test_the_room_holds_a_patient_whose_required_outside_clinician_has_not_been_consulted(cast, session):
    """The room reads the practice's consult_clinician_kinds with its other settings: alice's outside psychiatrist,
    never consulted, holds her dose until the practice no longer requires a psychiatrist's advice."""
    ExternalClinician.objects.create(patient=cast.alice, kind="psychiatrist", name="Dr. Ruth Mendel")
    held = "the outside psychiatrist Dr. Ruth Mendel has not been consulted"

    def alices_gate() -> tuple[str, ...]:
        _, room = selectors.session_room(user=cast.bob, session_id=session.pk)
        return next(entry.readiness.gate_blockers for entry in room if entry.patient == cast.alice)

    assert held in alices_gate()
    _practice(cast, {"screening.consult_clinician_kinds": ["therapist"]})
    assert held not in alices_gate()
