"""The enrolment gate: each missing condition is refused with its own clear message."""

import datetime

import pytest
from django.utils import timezone

from kapstone.audit.models import AuditEvent
from kapstone.patients import services as patients
from kapstone.practice import services as practice_services
from kapstone.practice.registry import SettingRefused
from kapstone.practice.settings_store import practice_value_set
from kapstone.practice.templatetags.kapstone_tags import day_in_words
from kapstone.program import services as program
from kapstone.program.models import Enrolment, Group
from kapstone.screening import consent_forms, gate, selectors, services
from kapstone.screening.consent_forms import CONSENT_DIR, current_form
from kapstone.screening.gate import enrolment_blockers
from kapstone.screening.models import ConsentSignature, Consultation, ConsultationOverride, IntakeVersion
from tests.screening import helpers

pytestmark = pytest.mark.django_db

FORM_VERSION = current_form().version
NOT_SCREENED = "screening has not been done"
NEEDS_REVIEW = "screening decision is needs review without a prescriber's override"
NOT_ELIGIBLE = "screening decision is not eligible, which cannot be overridden"
NOT_CONSULTED = "the outside treatment team has not been consulted"
NO_CONSENT = f"informed consent is not signed (form v{FORM_VERSION})"


@pytest.fixture(autouse=True, params=["own reads", "screening page's rows"])
def gate_reads(request, monkeypatch):
    """Each case is decided twice: by gate_status's own reads, and by gate_status_of_rows from the rows the screening
    page reads (screening_overview), given in either order, which must decide exactly as gate_status does."""
    if request.param == "own reads":
        return
    own_reads = gate.gate_status

    def from_page_rows(*, patient, at=None):
        expected = own_reads(patient=patient, at=at)
        overview = selectors.screening_overview(patient=patient)
        if at is None:
            assert overview["gate"] == expected
        rows = {
            "latest": overview["latest"],
            "consultations": overview["consultations"],
            "outside_team": list(patient.external_team.all()),
            "signatures": overview["signatures"],
            "diagnoses": list(patient.diagnoses.all()),
            "patient_answers": IntakeVersion.objects.filter(patient=patient, source="patient")
            .order_by("-number")
            .first(),
        }
        status = gate.gate_status_of_rows(patient=patient, at=at, **rows)
        assert status == expected
        reversed_rows = {
            **rows,
            "consultations": rows["consultations"][::-1],
            "outside_team": rows["outside_team"][::-1],
            "signatures": rows["signatures"][::-1],
            "diagnoses": rows["diagnoses"][::-1],
        }
        assert gate.gate_status_of_rows(patient=patient, at=at, **reversed_rows) == expected
        return status

    monkeypatch.setattr(gate, "gate_status", from_page_rows)


def test_a_new_patient_is_blocked_by_all_three_conditions(cast):
    assert enrolment_blockers(patient=cast.alice) == [NOT_SCREENED, NOT_CONSULTED, NO_CONSENT]


def test_an_eligible_consulted_consenting_patient_may_join(cast):
    helpers.ready_for_enrolment(cast)
    assert enrolment_blockers(patient=cast.alice) == []


def test_needs_review_blocks_until_a_prescriber_overrides(cast):
    _, result = helpers.screen(cast, helpers.needs_review_intake())
    helpers.consult(cast)
    helpers.sign_consent(cast)
    assert enrolment_blockers(patient=cast.alice) == [NEEDS_REVIEW]
    services.override_record(
        actor=cast.bob, result=result, justification="Euthymic for years on lithium; outside psychiatrist agrees."
    )
    assert enrolment_blockers(patient=cast.alice) == []


def test_a_rescreen_that_needs_review_again_needs_a_new_override(cast):
    _, result = helpers.screen(cast, helpers.needs_review_intake())
    services.override_record(
        actor=cast.bob, result=result, justification="Euthymic for years on lithium; outside psychiatrist agrees."
    )
    assert NEEDS_REVIEW not in enrolment_blockers(patient=cast.alice)
    services.screening_run(actor=cast.bob, patient=cast.alice)
    assert NEEDS_REVIEW in enrolment_blockers(patient=cast.alice)


def test_not_eligible_blocks_whatever_else_is_done(cast):
    helpers.screen(cast, helpers.not_eligible_intake())
    helpers.consult(cast)
    helpers.sign_consent(cast)
    assert enrolment_blockers(patient=cast.alice) == [NOT_ELIGIBLE]


@pytest.mark.parametrize("outcome", ["no_reply", "declined"])
def test_a_contact_without_an_answer_is_not_a_consultation(cast, outcome):
    helpers.screen(cast)
    helpers.consult(cast, outcome=outcome)
    helpers.sign_consent(cast)
    assert enrolment_blockers(patient=cast.alice) == [NOT_CONSULTED]


REASON = "Outside psychiatrist's concern was BP; BP is normal on three readings and we monitor at 40 minutes."


def consult_at(cast, outcome: str, *, days_ago: int, clinician_name: str = "Dr. Outside, Riverside Psychiatry"):
    return services.consultation_record(
        actor=cast.bob,
        patient=cast.alice,
        clinician_name=clinician_name,
        staff=cast.bob,
        contacted_at=timezone.now() - datetime.timedelta(days=days_ago),
        method=Consultation.Method.PHONE,
        outcome=outcome,
    )


ADVICE_WORDS = {"concerns": "raised concerns", "advised_against": "advised against KAP"}


def advice_blocker(entry) -> str:
    return (
        f"{entry.clinician_name} {ADVICE_WORDS[entry.outcome]} on {day_in_words(entry.contacted_at)}; a prescriber "
        "must record an override with a reason before the patient may go ahead"
    )


@pytest.mark.parametrize("outcome", ["concerns", "advised_against"])
def test_concerns_or_advice_against_block_until_a_prescriber_overrides_with_a_reason(cast, outcome):
    helpers.screen(cast)
    entry = helpers.consult(cast, outcome=outcome)
    helpers.sign_consent(cast)
    assert enrolment_blockers(patient=cast.alice) == [advice_blocker(entry)]
    services.consultation_override_record(actor=cast.bob, consultation=entry, reason=REASON)
    assert enrolment_blockers(patient=cast.alice) == []


def test_later_support_from_the_same_clinician_clears_the_advice(cast):
    helpers.screen(cast)
    helpers.sign_consent(cast)
    consult_at(cast, "advised_against", days_ago=5)
    consult_at(cast, "supports", days_ago=1)
    assert enrolment_blockers(patient=cast.alice) == []


def test_support_from_one_clinician_does_not_clear_another_clinicians_advice_against(cast):
    helpers.screen(cast)
    helpers.sign_consent(cast)
    against = consult_at(cast, "advised_against", days_ago=5, clinician_name="Dr. Family Doctor")
    consult_at(cast, "supports", days_ago=1)
    assert enrolment_blockers(patient=cast.alice) == [advice_blocker(against)]


def test_new_concerns_after_an_override_need_their_own_override(cast):
    helpers.screen(cast)
    helpers.sign_consent(cast)
    first = consult_at(cast, "concerns", days_ago=5)
    services.consultation_override_record(actor=cast.bob, consultation=first, reason=REASON)
    second = consult_at(cast, "advised_against", days_ago=1)
    assert enrolment_blockers(patient=cast.alice) == [advice_blocker(second)]


def test_only_a_prescriber_overrides_advice_and_only_concerns_or_advice_against_with_a_reason(cast):
    concerns = helpers.consult(cast, outcome="concerns")
    with pytest.raises(services.ScreeningRefused, match="Only a prescriber"):
        services.consultation_override_record(actor=cast.nurse, consultation=concerns, reason=REASON)
    with pytest.raises(services.ScreeningRefused, match="at least"):
        services.consultation_override_record(actor=cast.bob, consultation=concerns, reason="fine")
    supports = helpers.consult(cast)
    with pytest.raises(services.ScreeningRefused, match="Only concerns or advice against"):
        services.consultation_override_record(actor=cast.bob, consultation=supports, reason=REASON)
    services.consultation_override_record(actor=cast.bob, consultation=concerns, reason=REASON)
    with pytest.raises(services.ScreeningRefused, match="already overridden"):
        services.consultation_override_record(actor=cast.bob, consultation=concerns, reason=REASON)
    assert ConsultationOverride.objects.count() == 1
    assert AuditEvent.objects.filter(object_type="consultation_override", patient_id=cast.alice.pk).count() == 1


def years_ago(years: int) -> datetime.date:
    today = timezone.localdate()
    return datetime.date(today.year - years, today.month, min(today.day, 28))


def test_a_patient_younger_than_the_minimum_age_on_the_record_is_blocked_whatever_the_intake_said(cast):
    helpers.ready_for_enrolment(cast)
    cast.alice.date_of_birth = years_ago(17)
    cast.alice.save()
    assert enrolment_blockers(patient=cast.alice) == [
        "the patient is 17 on the record's date of birth; the practice treats adults from 18"
    ]
    a_year_later = timezone.localdate() + datetime.timedelta(days=366)
    assert not any(
        "the patient is" in blocker for blocker in gate.gate_status(patient=cast.alice, at=a_year_later).blockers
    )


@pytest.mark.parametrize(
    "born,day_before,birthday",
    [
        (datetime.date(2008, 6, 15), datetime.date(2026, 6, 14), datetime.date(2026, 6, 15)),
        # Born on 29 February: 18 on 1 March in a year without one, never on 28 February.
        (datetime.date(2008, 2, 29), datetime.date(2026, 2, 28), datetime.date(2026, 3, 1)),
    ],
)
def test_the_gate_opens_on_the_18th_birthday_and_not_the_day_before(cast, born, day_before, birthday):
    helpers.ready_for_enrolment(cast)
    cast.alice.date_of_birth = born
    cast.alice.save()

    def age_blockers(day):
        return [b for b in gate.gate_status(patient=cast.alice, at=day).blockers if b.startswith("the patient is")]

    assert age_blockers(day_before) == [
        "the patient is 17 on the record's date of birth; the practice treats adults from 18"
    ]
    assert age_blockers(birthday) == []


def test_the_practices_minimum_age_is_read_and_never_below_18(cast):
    helpers.ready_for_enrolment(cast)
    cast.alice.date_of_birth = years_ago(20)
    cast.alice.save()
    practice_value_set(actor=cast.admin, key="screening.min_age_years", value=21, reason="Practice policy 2026")
    assert "the practice treats adults from 21" in enrolment_blockers(patient=cast.alice)[0]
    practice_value_set(actor=cast.admin, key="screening.min_age_years", value=12, reason="written by hand")
    cast.alice.date_of_birth = years_ago(16)
    cast.alice.save()
    assert "the practice treats adults from 18" in enrolment_blockers(patient=cast.alice)[0]


def test_a_record_at_65_or_over_that_the_screening_read_as_younger_blocks_until_a_prescriber_reviews_a_rescreen(cast):
    helpers.ready_for_enrolment(cast)  # the intake gave age 40
    patients.patient_update(actor=cast.bob, patient=cast.alice, fields={"date_of_birth": years_ago(70)})
    [blocker] = enrolment_blockers(patient=cast.alice)
    assert blocker == (
        f"the patient is 70 on the record's date of birth, but the screening of {day_in_words(timezone.localdate())} did "
        "not review age 65 or over; re-screen so a prescriber reviews it"
    )
    group = _group(cast)
    with pytest.raises(program.EnrolmentRefused, match="did not review age 65 or over"):
        program.enrol(actor=cast.bob, group=group, patient=cast.alice)
    rescreened = helpers.intake(age=None, date_of_birth=years_ago(70).isoformat())
    _, result = helpers.screen(cast, rescreened)
    assert result.decision == "needs_review"
    services.override_record(
        actor=cast.bob,
        result=result,
        justification="Age 70 reviewed: no hypertension history; start at the lower dose.",
    )
    assert enrolment_blockers(patient=cast.alice) == []


def code_on_record(cast, code: str, description: str):
    return patients.record_part_add(
        actor=cast.bob, patient=cast.alice, kind="diagnosis", fields={"icd10_code": code, "description": description}
    )


def test_a_diagnosis_on_the_record_the_screening_did_not_review_blocks_until_a_rescreen_reviews_it(cast):
    helpers.ready_for_enrolment(cast)  # the intake answered no to every medical question
    code_on_record(cast, "I71.2", "Thoracic aortic aneurysm, without rupture")
    [blocker] = enrolment_blockers(patient=cast.alice)
    assert blocker == (
        "the record codes I71.2 (Thoracic aortic aneurysm, without rupture), aneurysmal vascular disease or an "
        f"arteriovenous malformation, but the screening of {day_in_words(timezone.localdate())} did not review it; "
        "re-screen so a prescriber reviews it, or correct the record if the code no longer applies"
    )
    group = _group(cast)
    with pytest.raises(program.EnrolmentRefused, match=r"the record codes I71\.2 .* did not review it"):
        program.enrol(actor=cast.bob, group=group, patient=cast.alice)
    reviewed = helpers.intake()
    reviewed["medical"]["aneurysmal_vascular_disease_or_avm"] = True
    _, result = helpers.screen(cast, reviewed)
    # The screening that reviews it excludes the patient (a contraindication): the gate now says so, and only that.
    assert result.decision == "not_eligible"
    assert enrolment_blockers(patient=cast.alice) == [NOT_ELIGIBLE]


def test_a_record_diagnosis_the_intake_reflects_does_not_block_and_a_rescreen_that_reviews_it_clears_it(cast):
    code_on_record(cast, "F31.81", "Bipolar II disorder")
    helpers.ready_for_enrolment(cast)
    assert (
        "the record codes F31.81 (Bipolar II disorder), bipolar disorder" in enrolment_blockers(patient=cast.alice)[0]
    )
    _, result = helpers.screen(cast, helpers.needs_review_intake())  # answers yes to bipolar disorder
    assert enrolment_blockers(patient=cast.alice) == [NEEDS_REVIEW]
    services.override_record(
        actor=cast.bob, result=result, justification="Bipolar II, euthymic for years on lithium; psychiatrist agrees."
    )
    assert enrolment_blockers(patient=cast.alice) == []


def test_a_record_diagnosis_is_reviewed_by_the_rule_that_fired_or_a_listed_disorder(cast):
    helpers.ready_for_enrolment(cast)
    code_on_record(cast, "F33.3", "Major depressive disorder, recurrent, severe with psychotic symptoms")
    # In remission, as the intake below weighs it: coded as active, it would contradict that intake (use disorder in
    # remission, tests/dosing/test_clinical_audit_4.py).
    code_on_record(cast, "F16.21", "Hallucinogen dependence, in remission")
    assert [blocker.split(" (")[0] for blocker in enrolment_blockers(patient=cast.alice)] == [
        "the record codes F16.21",
        "the record codes F33.3",
    ]
    reviewed = helpers.intake()
    reviewed["current_episode"]["severity"] = "severe_with_psychosis"  # the current_psychosis rule fires
    reviewed["psychiatric"]["substance_use_disorders"] = [
        {"substance": "ketamine", "last_use": "2019-01-01", "involves_dissociatives": True}
    ]
    helpers.screen(cast, reviewed)
    assert enrolment_blockers(patient=cast.alice) == [NOT_ELIGIBLE]


def sud(substance: str, last_use: str = "2019-01-01") -> dict:
    return {"substance": substance, "last_use": last_use, "involves_dissociatives": False}


def test_a_substance_use_disorder_coded_after_an_intake_that_declared_none_holds_until_a_screening_weighs_it(cast):
    helpers.ready_for_enrolment(cast)  # the intake listed no substance use disorder
    code_on_record(cast, "F10.21", "Alcohol dependence, in remission")
    screened = day_in_words(timezone.localdate())
    assert enrolment_blockers(patient=cast.alice) == [
        "the record codes F10.21 (Alcohol dependence, in remission), an alcohol use disorder, but the screening of "
        f"{screened} did not review it (its intake lists no substance use disorder); re-screen so a prescriber "
        "reviews it, or correct the record if the code no longer applies"
    ]
    # A new intake that declares it: the remission rule asks a prescriber to review it, who overrides with a reason.
    declared = helpers.intake()
    declared["psychiatric"]["substance_use_disorders"] = [sud("alcohol")]
    _, result = helpers.screen(cast, declared)
    assert [reason["rule"] for reason in result.reasons] == ["substance_use_disorder_in_remission"]
    assert enrolment_blockers(patient=cast.alice) == [NEEDS_REVIEW]
    services.override_record(
        actor=cast.bob,
        result=result,
        justification="Alcohol use disorder in remission since 2019, reviewed with the patient.",
    )
    assert enrolment_blockers(patient=cast.alice) == []
    # The screening weighed alcohol, not cannabis: a cannabis use disorder coded next holds again, naming what it saw.
    code_on_record(cast, "F12.20", "Cannabis dependence, uncomplicated")
    [blocker] = enrolment_blockers(patient=cast.alice)
    assert blocker.startswith(
        "the record codes F12.20 (Cannabis dependence, uncomplicated), a cannabis use disorder, but the screening of "
        f"{screened} did not review it (its intake lists a use disorder of alcohol only); re-screen"
    )


def test_a_diagnosis_the_screening_does_not_review_never_blocks_and_a_corrected_record_reopens_the_gate(cast):
    helpers.ready_for_enrolment(cast)
    code_on_record(cast, "F33.1", "Major depressive disorder, recurrent, moderate")
    code_on_record(cast, "E05.00", "Thyrotoxicosis with diffuse goiter")
    assert enrolment_blockers(patient=cast.alice) == []
    pregnancy = code_on_record(cast, "Z33.1", "Pregnant state, incidental")
    assert "the record codes Z33.1 (Pregnant state, incidental), pregnancy" in enrolment_blockers(patient=cast.alice)[0]
    patients.record_part_remove(actor=cast.bob, patient=cast.alice, kind="diagnosis", part_id=pregnancy.pk)
    assert enrolment_blockers(patient=cast.alice) == []


def test_without_a_screening_a_record_diagnosis_adds_nothing_to_the_screening_not_done(cast):
    code_on_record(cast, "F20.9", "Schizophrenia, unspecified")
    assert enrolment_blockers(patient=cast.alice) == [NOT_SCREENED, NOT_CONSULTED, NO_CONSENT]


def test_the_older_adult_age_is_never_set_above_65(cast):
    with pytest.raises(SettingRefused, match="cannot exceed 65"):
        practice_services.practice_setting_change(
            actor=cast.bob, key="screening.older_adult_age_years", raw_value="90", reason="Practice policy"
        )
    practice_value_set(actor=cast.admin, key="screening.older_adult_age_years", value=90, reason="written by hand")
    helpers.ready_for_enrolment(cast)
    cast.alice.date_of_birth = years_ago(66)
    cast.alice.save()
    assert "did not review age 65 or over" in enrolment_blockers(patient=cast.alice)[0]


def send_own_answers(cast, **parts):
    return services.pre_intake_submit(
        actor=cast.alice_user, patient=cast.alice, data={"indications": ["depression"], **parts}
    )


def test_a_pregnancy_the_patient_reports_from_the_portal_after_screening_blocks_until_a_new_intake_weighs_it(cast):
    helpers.ready_for_enrolment(cast)  # the intake answered no to every medical question
    send_own_answers(cast, medical={"pregnant": True, "hypertension": False})
    [blocker] = enrolment_blockers(patient=cast.alice)
    today = day_in_words(timezone.localdate())
    assert blocker.startswith(
        f"the patient's own answers sent on {today}, after the screening of {today}, report what it did not review ("
    )
    assert "regnan" in blocker and blocker.endswith(
        "complete a new intake with them so the screening weighs it and a prescriber reviews it"
    )
    with pytest.raises(program.EnrolmentRefused, match="the patient's own answers sent on"):
        program.enrol(actor=cast.bob, group=_group(cast), patient=cast.alice)
    reviewed = helpers.intake()
    reviewed["medical"]["pregnant"] = True
    helpers.screen(cast, reviewed)
    # The screening that weighs it excludes the patient: the gate says so, and only that.
    assert enrolment_blockers(patient=cast.alice) == [NOT_ELIGIBLE]


def test_own_answers_that_report_nothing_new_or_that_the_screening_read_do_not_block(cast):
    send_own_answers(cast, medical={"pregnant": True})
    helpers.ready_for_enrolment(cast)  # staff went through them: not pregnant
    assert enrolment_blockers(patient=cast.alice) == []
    send_own_answers(cast, medical={"pregnant": False}, psychiatric={"current_psychosis": False})
    assert enrolment_blockers(patient=cast.alice) == []


def test_alcohol_or_drug_use_the_patient_writes_after_screening_holds_until_a_new_intake_weighs_it(cast):
    helpers.ready_for_enrolment(cast)
    send_own_answers(cast, patient_notes={"substance_use": "   "})
    assert enrolment_blockers(patient=cast.alice) == [], "an empty note says nothing"
    send_own_answers(cast, patient_notes={"substance_use": "Started using ketamine at weekends last month."})
    [blocker] = enrolment_blockers(patient=cast.alice)
    assert "tell of alcohol or drug use (“Started using ketamine at weekends last month.”)" in blocker
    with pytest.raises(program.EnrolmentRefused, match="tell of alcohol or drug use"):
        program.enrol(actor=cast.bob, group=_group(cast), patient=cast.alice)
    # Staff go through it with the patient and record it in a new intake, which the screening weighs.
    helpers.screen(cast)
    assert enrolment_blockers(patient=cast.alice) == []


def test_a_long_note_is_quoted_in_part(cast):
    helpers.ready_for_enrolment(cast)
    send_own_answers(cast, patient_notes={"substance_use": "alcohol " * 100})
    [blocker] = enrolment_blockers(patient=cast.alice)
    quoted = blocker.split("“", 1)[1].split("”", 1)[0]
    assert len(quoted) == gate.NOTE_SHOWN and quoted.endswith("…")


def test_an_expired_screening_blocks_and_a_fresh_intake_reopens_the_gate(cast):
    stale = helpers.intake(assessment_date=(timezone.localdate() - datetime.timedelta(days=31)).isoformat())
    helpers.screen(cast, stale)
    helpers.consult(cast)
    helpers.sign_consent(cast)
    assert enrolment_blockers(patient=cast.alice) == [
        f"screening of {day_in_words(datetime.date.fromisoformat(stale['assessment_date']))} has expired (a screening is current for 30 days); re-screen with "
        "fresh blood pressure and medications"
    ]
    services.screening_run(actor=cast.bob, patient=cast.alice)
    assert "has expired" in enrolment_blockers(patient=cast.alice)[0], "re-screening the old intake is not enough"
    helpers.screen(cast)
    assert enrolment_blockers(patient=cast.alice) == []


def test_a_screening_is_current_up_to_its_last_day_and_the_practice_sets_how_long(cast):
    thirty_days_ago = (timezone.localdate() - datetime.timedelta(days=30)).isoformat()
    helpers.screen(cast, helpers.intake(assessment_date=thirty_days_ago))
    helpers.consult(cast)
    helpers.sign_consent(cast)
    assert enrolment_blockers(patient=cast.alice) == []
    assert gate.gate_status(patient=cast.alice).expires_on == timezone.localdate()
    practice_value_set(actor=cast.admin, key="screening.screening_valid_days", value=14, reason="Local policy")
    assert "has expired (a screening is current for 14 days)" in enrolment_blockers(patient=cast.alice)[0]


def test_an_intake_without_blood_pressure_cannot_open_the_gate(cast):
    data = helpers.intake()
    del data["vitals"]
    _, result = helpers.screen(cast, data)
    services.override_record(actor=cast.bob, result=result, justification=REASON)
    helpers.consult(cast)
    helpers.sign_consent(cast)
    assert enrolment_blockers(patient=cast.alice) == [
        "the screening's intake records no blood pressure; re-screen with a fresh blood pressure"
    ]


def test_unsigned_consent_blocks(cast):
    helpers.screen(cast)
    helpers.consult(cast)
    assert enrolment_blockers(patient=cast.alice) == [NO_CONSENT]


def test_withdrawn_consent_blocks_and_says_when(cast):
    helpers.screen(cast)
    helpers.consult(cast)
    signature = helpers.sign_consent(cast)
    services.consent_withdraw(actor=cast.alice_user, signature=signature)
    signature.refresh_from_db()
    assert enrolment_blockers(patient=cast.alice) == [
        f"informed consent (form v{FORM_VERSION}) was withdrawn on {day_in_words(signature.withdrawn_at)}"
    ]


def test_of_two_signatures_in_force_the_newest_counts_and_of_two_withdrawals_the_latest_is_named(cast):
    helpers.screen(cast)
    helpers.consult(cast)
    first = helpers.sign_consent(cast)
    services.consent_withdraw(actor=cast.alice_user, signature=first)
    second = helpers.sign_consent(cast)
    services.consent_withdraw(actor=cast.alice_user, signature=second)
    second.refresh_from_db()
    assert gate.gate_status(patient=cast.alice).withdrawn_consent == second
    # Two in force at once (written here by hand; signing refuses a second): the one signed last is the consent.
    older = helpers.sign_consent(cast)
    newer = ConsentSignature.objects.get(pk=older.pk)
    newer.pk, newer.signed_at = None, older.signed_at + datetime.timedelta(minutes=1)
    newer.save()
    status = gate.gate_status(patient=cast.alice)
    assert (status.consent, status.withdrawn_consent, status.blockers) == (newer, None, ())


def test_a_signature_on_an_older_form_version_does_not_count(cast):
    helpers.ready_for_enrolment(cast)
    cast.alice.consent_signatures.update(form_version="0")
    assert enrolment_blockers(patient=cast.alice) == [NO_CONSENT]


def _group(cast) -> Group:
    return program.group_create(
        actor=cast.bob,
        name="Thursday group",
        template_id="journey-clinical-style",
        start_date="2030-01-03",
        facilitators=[cast.bob, cast.therapist],
    )


def test_program_enrolment_refuses_with_the_gates_words(cast):
    group = _group(cast)
    with pytest.raises(program.EnrolmentRefused, match=f"cannot join yet: {NOT_SCREENED}; {NOT_CONSULTED}; "):
        program.enrol(actor=cast.bob, group=group, patient=cast.alice)


def test_program_enrolment_succeeds_once_the_gate_is_open(cast):
    group = _group(cast)
    helpers.ready_for_enrolment(cast)
    enrolment = program.enrol(actor=cast.bob, group=group, patient=cast.alice)
    assert enrolment.status == Enrolment.Status.ENROLLED


def test_a_signature_on_version_1_stands_for_version_2_which_has_the_same_words(cast):
    # Version 2 changed only how its sources are cited, so a patient who signed version 1 read the same words.
    assert current_form().version == "2" and current_form().accepted_versions == ("1", "2")
    helpers.ready_for_enrolment(cast)
    cast.alice.consent_signatures.update(form_version="1")
    assert enrolment_blockers(patient=cast.alice) == []
    with pytest.raises(services.ScreeningRefused, match="already signed"):
        helpers.sign_consent(cast)


def test_a_later_version_with_other_words_needs_a_new_signature(cast, tmp_path, monkeypatch):
    newest = (CONSENT_DIR / "kap_group_consent_v2.yaml").read_text(encoding="utf-8")
    (tmp_path / "kap_group_consent_v2.yaml").write_text(newest, encoding="utf-8")
    reworded = newest.replace('version: "2"', 'version: "3"').replace(
        "Taking part is voluntary.", "Taking part is entirely voluntary."
    )
    (tmp_path / "kap_group_consent_v3.yaml").write_text(reworded, encoding="utf-8")
    monkeypatch.setattr(consent_forms, "CONSENT_DIR", tmp_path)
    current_form.cache_clear()
    try:
        assert current_form().accepted_versions == ("3",)
        helpers.ready_for_enrolment(cast)  # signs version 3
        cast.alice.consent_signatures.update(form_version="2")
        assert enrolment_blockers(patient=cast.alice) == ["informed consent is not signed (form v3)"]
    finally:
        current_form.cache_clear()
