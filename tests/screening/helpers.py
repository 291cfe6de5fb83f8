"""Builders for screening records in Django tests: a valid intake, a screened patient, a logged consultation."""

import copy
import datetime

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from kapstone.patients.services import record_part_add
from kapstone.screening import services
from kapstone.screening.gate import enrolment_blockers
from kapstone.screening.models import Consultation
from tests.screening.conftest import MINIMAL_INTAKE

PDF_BYTES = b"%PDF-1.4\n% synthetic reply\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def intake(**changes) -> dict:
    """MINIMAL_INTAKE (eligible, no reasons), assessed today so the screening is current, with top-level parts
    replaced, e.g. intake(medical={...})."""
    data = copy.deepcopy(MINIMAL_INTAKE)
    data["assessment_date"] = timezone.localdate().isoformat()
    data.update(copy.deepcopy(changes))
    return data


def needs_review_intake() -> dict:
    data = intake()
    data["psychiatric"]["bipolar_disorder"] = True
    return data


def not_eligible_intake() -> dict:
    data = intake()
    data["medical"]["pregnant"] = True
    return data


def screen(cast, data: dict | None = None, patient=None):
    """(version, result) for alice (or `patient`), saved by bob."""
    return services.intake_save(actor=cast.bob, patient=patient or cast.alice, data=data or intake())


def consult(cast, patient=None, *, outcome=Consultation.Outcome.SUPPORTS, with_reply: bool = False):
    patient = patient or cast.alice
    return services.consultation_record(
        actor=cast.bob,
        patient=patient,
        clinician_name="Dr. Outside, Riverside Psychiatry",
        staff=cast.bob,
        contacted_at=timezone.now() - datetime.timedelta(days=1),
        method=Consultation.Method.PHONE,
        outcome=outcome,
        notes="Discussed KAP; supportive.",
        reply_file=SimpleUploadedFile("letter.pdf", PDF_BYTES, content_type="application/pdf") if with_reply else None,
    )


def sign_consent(cast, patient=None):
    patient = patient or cast.alice
    return services.consent_sign(
        actor=patient.user, patient=patient, typed_name=patient.full_name, understood=True, ip_address="10.0.0.7"
    )


def ready_for_enrolment(cast, patient=None):
    """Screened eligible, consulted and consented: the gate is open."""
    screen(cast, patient=patient)
    consult(cast, patient)
    sign_consent(cast, patient)


# A prescriber's reason for overriding a needs-review screening, long enough for the service's minimum.
OVERRIDE_JUSTIFICATION = "Weighed with her outside clinicians: stable and monitored closely; proceed."


def screened_a_week_ago(cast, **parts):
    """Alice screened a week ago (still current) on an intake changed by `parts`, a needs-review result overridden,
    consulted and consented: the gate is open."""
    data = intake(**parts)
    data["assessment_date"] = (timezone.localdate() - datetime.timedelta(days=7)).isoformat()
    _, result = screen(cast, data)
    if result.decision == "needs_review":
        services.override_record(actor=cast.bob, result=result, justification=OVERRIDE_JUSTIFICATION)
    consult(cast)
    sign_consent(cast)
    assert enrolment_blockers(patient=cast.alice) == []
    return data


def code_on_record(cast, code, description, noted_on=None):
    """A diagnosis coded on Alice's record by her prescriber."""
    return record_part_add(
        actor=cast.bob,
        patient=cast.alice,
        kind="diagnosis",
        fields={"icd10_code": code, "description": description, "noted_on": noted_on},
    )
