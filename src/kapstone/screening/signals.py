"""Asked before an enrolment, so the apps above screening that hold safety facts the gate cannot read (an open
suicide-risk alert, medicines added to the record since screening) can refuse it without screening or the program
knowing about them."""

from typing import cast

from django.dispatch import Signal

from kapstone.patients.models import Patient

# Each receiver returns a list of plain-language reasons the patient cannot join a course now (empty: none).
# kwargs: patient (Patient)
enrolment_checks = Signal()


def enrolment_check_reasons(*, patient: Patient) -> list[str]:
    """Every reason the apps answering enrolment_checks give for the patient not to join a course now (empty:
    none). program's enrol() refuses on them, and the screening page shows them beside the gate's, so the page never
    says a patient may join whom enrol() would refuse."""
    reasons: list[str] = []
    for _, answer in enrolment_checks.send(sender=Patient, patient=patient):
        # django-stubs types a response as str | None; enrolment_checks' receivers return lists of reasons.
        reasons += cast(list[str], answer)
    return reasons
