"""Reads for the patient portal's own pages; the other apps' portal reads live in their selectors."""

from kapstone.accounts.models import User
from kapstone.audit import services as audit
from kapstone.patients.models import Patient
from kapstone.patients.selectors import patient_for_portal_user


def portal_home_of(*, user: User) -> Patient:
    """The signed-in patient whose home this is (404 for anyone without a record); the visit is a read of it."""
    patient = patient_for_portal_user(user)
    audit.record(action=audit.Action.READ, patient=patient, object_type="portal_home", object_id=patient.pk)
    return patient
