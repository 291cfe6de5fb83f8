"""The demo practice's screening records: open gates for everyone in a current group, and the blocked cases."""

import pytest
from django.core.management import call_command

from kapstone.patients.models import Patient
from kapstone.program.models import Enrolment
from kapstone.screening.consent_forms import current_form
from kapstone.screening.demo import CONSENT_WITHDRAWN, RESCREENED_NEEDS_REVIEW, RESCREENED_NOT_ELIGIBLE, WAITLISTED
from kapstone.screening.gate import enrolment_blockers
from kapstone.screening.models import ScreeningResult

pytestmark = pytest.mark.django_db


def test_current_group_members_pass_the_gate_and_the_blocked_cases_say_why(capsys):
    call_command("seed_demo", "--patients", "16", "--quiet-logins")
    patients = list(Patient.objects.order_by("id"))
    assert ScreeningResult.objects.count() == 16 + 2
    enrolled = set(Enrolment.objects.filter(status=Enrolment.Status.ENROLLED).values_list("patient_id", flat=True))
    assert enrolled
    for patient in patients:
        if patient.pk in enrolled:
            assert enrolment_blockers(patient=patient) == [], patient
    needs_review = "screening decision is needs review without a prescriber's override"
    assert enrolment_blockers(patient=patients[WAITLISTED]) == [needs_review]
    assert enrolment_blockers(patient=patients[RESCREENED_NEEDS_REVIEW]) == [needs_review]
    assert enrolment_blockers(patient=patients[RESCREENED_NOT_ELIGIBLE]) == [
        "screening decision is not eligible, which cannot be overridden"
    ]
    assert any(
        blocker.startswith(f"informed consent (form v{current_form().version}) was withdrawn")
        for blocker in enrolment_blockers(patient=patients[CONSENT_WITHDRAWN])
    )
    moved = ScreeningResult.objects.filter(patient=patients[RESCREENED_NOT_ELIGIBLE]).first()
    assert moved.changes["fields"] == [
        {
            "field": "assessment_date",
            "before": moved.changes["fields"][0]["before"],
            "after": moved.result["assessment_date"],
        },
        {"field": "medical.aneurysmal_vascular_disease_or_avm", "before": "no", "after": "yes"},
    ]


def test_no_demo_record_differs_from_its_latest_intake():
    from kapstone.screening.changes import record_differences

    call_command("seed_demo", "--patients", "16", "--quiet-logins")
    for patient in Patient.objects.prefetch_related("medications"):
        latest = ScreeningResult.objects.filter(patient=patient).select_related("intake_version").first()
        differences = record_differences(
            medications=list(patient.medications.all()),
            date_of_birth=patient.date_of_birth,
            intake=latest.intake_version.data,
        )
        assert differences == [], (patient, differences)


def test_a_demo_record_coding_a_substance_use_disorder_has_an_intake_that_declared_it():
    # Enough patients that the demo codes an alcohol use disorder in remission on some (COMORBID, by its seed).
    call_command("seed_demo", "--patients", "40", "--quiet-logins")
    coded = Patient.objects.filter(diagnoses__icd10_code="F10.21").exclude(pk__in=_later_screened()).distinct()
    assert coded.exists()
    for patient in coded:
        latest = ScreeningResult.objects.filter(patient=patient).select_related("intake_version").first()
        [declared] = latest.intake_version.data["psychiatric"]["substance_use_disorders"]
        assert declared["substance"] == "alcohol"
        assert "substance_use_disorder_in_remission" in [reason["rule"] for reason in latest.reasons]
        assert not any("the record codes" in blocker for blocker in enrolment_blockers(patient=patient)), patient


def _later_screened() -> list[int]:
    """The waitlisted and re-screened patients, whose gate is closed on purpose (the test above)."""
    patients = list(Patient.objects.order_by("id"))
    return [patients[index].pk for index in (WAITLISTED, RESCREENED_NEEDS_REVIEW, RESCREENED_NOT_ELIGIBLE)]
