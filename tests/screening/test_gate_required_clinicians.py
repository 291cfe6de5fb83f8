"""The enrolment gate waits for advice from each outside clinician on the record whose kind the practice requires
(screening setting consult_clinician_kinds, by default the psychiatrist and the therapist), unless a prescriber
decides to go ahead without it after a contact that had no answer; any one clinician's advice is never enough for
them, and some clinician's advice is always needed."""

import datetime

import pytest
from django.utils import timezone

from kapstone.audit.models import AuditEvent
from kapstone.patients.models import ExternalClinician
from kapstone.practice import services as practice_services
from kapstone.practice.registry import SettingRefused
from kapstone.practice.settings_store import practice_value_set
from kapstone.practice.templatetags.kapstone_tags import day_in_words
from kapstone.program import services as program
from kapstone.program.models import Enrolment
from kapstone.screening import gate, selectors, services
from kapstone.screening.engine import load_rule_set
from kapstone.screening.gate import enrolment_blockers, gate_status
from kapstone.screening.models import Consultation, ConsultationOverride
from tests.screening import helpers

pytestmark = pytest.mark.django_db

NOT_CONSULTED = "the outside treatment team has not been consulted"
REASON = "Two letters and three calls over six weeks unanswered; the patient's GP supports KAP and we monitor closely."


@pytest.fixture
def team(cast):
    """alice screened and consented, with an outside psychiatrist and an outside primary-care doctor on her record."""
    helpers.screen(cast)
    helpers.sign_consent(cast)
    return {
        kind: ExternalClinician.objects.create(patient=cast.alice, kind=kind, name=name)
        for kind, name in [("psychiatrist", "Dr. Ruth Mendel"), ("primary_care", "Dr. Sam Okoro")]
    }


def contact(cast, clinician, outcome, *, days_ago=1):
    return services.consultation_record(
        actor=cast.bob,
        patient=cast.alice,
        external_clinician=clinician,
        staff=cast.bob,
        contacted_at=timezone.now() - datetime.timedelta(days=days_ago),
        method=Consultation.Method.PHONE,
        outcome=outcome,
    )


def set_kinds(cast, text):
    practice_services.practice_setting_change(
        actor=cast.bob, key="screening.consult_clinician_kinds", raw_value=text, reason="Practice policy 2026"
    )


def test_the_default_is_the_mental_health_treaters_cited_to_the_practice():
    setting = load_rule_set().settings["consult_clinician_kinds"]
    assert setting.value == ["psychiatrist", "therapist"]
    assert "[seed-practice]" in setting.source
    assert set(setting.allowed) == set(ExternalClinician.Kind.values)


def test_an_unconsulted_psychiatrist_holds_the_gate_though_primary_care_supports(cast, team):
    contact(cast, team["primary_care"], "supports")
    assert enrolment_blockers(patient=cast.alice) == ["the outside psychiatrist Dr. Ruth Mendel has not been consulted"]
    status = gate_status(patient=cast.alice)
    assert not status.consulted and status.unconsulted == (team["psychiatrist"],)
    contact(cast, team["psychiatrist"], "supports")
    assert enrolment_blockers(patient=cast.alice) == []
    assert gate_status(patient=cast.alice).consulted


def test_an_unconsulted_primary_care_doctor_does_not_hold_the_gate_by_default(cast, team):
    contact(cast, team["psychiatrist"], "supports")
    assert enrolment_blockers(patient=cast.alice) == []


def test_with_nobody_consulted_each_required_clinician_is_named_and_not_the_team_again(cast, team):
    therapist = ExternalClinician.objects.create(patient=cast.alice, kind="therapist", name="Jo Park, LCSW")
    assert enrolment_blockers(patient=cast.alice) == [
        "the outside psychiatrist Dr. Ruth Mendel has not been consulted",
        f"the outside therapist {therapist.name} has not been consulted",
    ]


def test_the_practice_chooses_the_kinds_and_some_advice_is_always_needed(cast, team):
    set_kinds(cast, "primary_care\nother")
    contact(cast, team["psychiatrist"], "supports")
    assert enrolment_blockers(patient=cast.alice) == [
        "the outside primary-care doctor Dr. Sam Okoro has not been consulted"
    ]
    other = ExternalClinician.objects.create(patient=cast.alice, kind="other", name="Dr. Lee Shaw")
    assert "the outside clinician Dr. Lee Shaw has not been consulted" in enrolment_blockers(patient=cast.alice)
    set_kinds(cast, "")
    Consultation.objects.all().delete()
    assert enrolment_blockers(patient=cast.alice) == [NOT_CONSULTED]
    contact(cast, other, "supports")
    assert enrolment_blockers(patient=cast.alice) == []


def test_a_kind_that_is_not_an_outside_clinician_kind_is_refused(cast):
    with pytest.raises(SettingRefused, match="line 2"):
        set_kinds(cast, "psychiatrist\nnaturopath")


def test_a_no_reply_says_so_and_a_prescribers_decision_to_go_ahead_without_it_opens_the_gate(cast, team):
    contact(cast, team["primary_care"], "supports")
    no_reply = contact(cast, team["psychiatrist"], "no_reply")
    assert enrolment_blockers(patient=cast.alice) == [
        f"the outside psychiatrist Dr. Ruth Mendel has not been consulted (no reply yet on "
        f"{day_in_words(no_reply.contacted_at)}); log their advice, or a prescriber may record a decision to go "
        "ahead without it"
    ]
    assert gate_status(patient=cast.alice).no_answer == (no_reply,)
    services.consultation_override_record(actor=cast.bob, consultation=no_reply, reason=REASON)
    assert enrolment_blockers(patient=cast.alice) == []
    event = AuditEvent.objects.get(object_type="consultation_override")
    assert event.detail_data["outcome"] == "no_reply" and event.patient_id == cast.alice.pk


def test_going_ahead_without_a_clinicians_advice_still_needs_some_clinicians_advice(cast, team):
    declined = contact(cast, team["psychiatrist"], "declined")
    services.consultation_override_record(actor=cast.bob, consultation=declined, reason=REASON)
    assert enrolment_blockers(patient=cast.alice) == [NOT_CONSULTED]


def test_a_later_contact_without_an_answer_needs_its_own_decision(cast, team):
    contact(cast, team["primary_care"], "supports")
    first = contact(cast, team["psychiatrist"], "no_reply", days_ago=10)
    services.consultation_override_record(actor=cast.bob, consultation=first, reason=REASON)
    assert enrolment_blockers(patient=cast.alice) == []
    contact(cast, team["psychiatrist"], "declined", days_ago=1)
    assert "Dr. Ruth Mendel has not been consulted" in enrolment_blockers(patient=cast.alice)[0]
    with pytest.raises(services.ScreeningRefused, match="A later contact"):
        services.consultation_override_record(actor=cast.bob, consultation=first, reason=REASON)


def test_concerns_from_a_required_clinician_still_need_their_override(cast, team):
    concerns = contact(cast, team["psychiatrist"], "concerns")
    blockers = enrolment_blockers(patient=cast.alice)
    assert blockers == [
        f"Psychiatrist: Dr. Ruth Mendel raised concerns on {day_in_words(concerns.contacted_at)}; a prescriber must record an "
        "override with a reason before the patient may go ahead"
    ]
    services.consultation_override_record(actor=cast.bob, consultation=concerns, reason=REASON)
    assert enrolment_blockers(patient=cast.alice) == []


def test_a_decision_without_advice_is_refused_where_it_means_nothing(cast, team):
    typed = helpers.consult(cast, outcome="no_reply")  # typed by name, not on the outside team
    with pytest.raises(services.ScreeningRefused, match="outside treatment team"):
        services.consultation_override_record(actor=cast.bob, consultation=typed, reason=REASON)
    contact(cast, team["psychiatrist"], "supports", days_ago=5)
    after_advice = contact(cast, team["psychiatrist"], "no_reply", days_ago=1)
    with pytest.raises(services.ScreeningRefused, match="has given advice already"):
        services.consultation_override_record(actor=cast.bob, consultation=after_advice, reason=REASON)
    no_reply = contact(cast, team["primary_care"], "no_reply")
    with pytest.raises(services.ScreeningRefused, match="Only a prescriber"):
        services.consultation_override_record(actor=cast.therapist, consultation=no_reply, reason=REASON)
    with pytest.raises(services.ScreeningRefused, match="without their advice"):
        services.consultation_override_record(actor=cast.bob, consultation=no_reply, reason="no reply")
    assert not ConsultationOverride.objects.exists()
    assert not AuditEvent.objects.filter(object_type="consultation_override").exists()


def test_the_screening_page_the_room_and_enrolment_decide_alike(cast, team):
    """The screening page's rows, the room's shared reads and enrol() read the same rule."""
    contact(cast, team["primary_care"], "supports")
    no_reply = contact(cast, team["psychiatrist"], "no_reply")
    overview = selectors.screening_overview(patient=cast.alice)
    own = gate_status(patient=cast.alice)
    assert overview["gate"] == own and own.no_answer == (no_reply,)
    assert gate.gate_statuses([cast.alice])[cast.alice.pk] == own
    assert overview["required_kinds"] == "psychiatrist, therapist"


def test_enrolment_refuses_while_a_required_clinician_is_unconsulted(cast, team):
    group = program.group_create(
        actor=cast.bob,
        name="Thursday group",
        template_id="journey-clinical-style",
        start_date="2030-01-03",
        facilitators=[cast.bob, cast.therapist],
    )
    contact(cast, team["primary_care"], "supports")
    with pytest.raises(program.EnrolmentRefused, match="the outside psychiatrist Dr. Ruth Mendel has not been"):
        program.enrol(actor=cast.bob, group=group, patient=cast.alice)
    contact(cast, team["psychiatrist"], "supports")
    assert program.enrol(actor=cast.bob, group=group, patient=cast.alice).status == Enrolment.Status.ENROLLED


def test_a_stored_value_that_is_not_a_list_of_kinds_gives_the_cited_default(cast, team):
    practice_value_set(actor=cast.admin, key="screening.consult_clinician_kinds", value="other", reason="by hand")
    contact(cast, team["primary_care"], "supports")
    assert enrolment_blockers(patient=cast.alice) == ["the outside psychiatrist Dr. Ruth Mendel has not been consulted"]
