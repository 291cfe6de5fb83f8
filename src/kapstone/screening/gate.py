"""The enrolment gate: a patient may join a group course only when all three hold.

1. The latest screening decision is eligible, or it is "needs review" and a prescriber has overridden that very
   result with a written justification. "Not eligible" can never be overridden.
2. The outside treatment team has been consulted (a contact whose outcome is "supports" or "concerns").
3. The current version of the informed-consent form is signed and not withdrawn.

program.services.enrol calls enrolment_blockers(); the screening page shows the same reasons.
"""

from dataclasses import dataclass

from django.db.models import Max

from kapstone.screening.consent_forms import current_form
from kapstone.screening.models import ConsentSignature, Consultation, Decision, ScreeningResult


@dataclass(frozen=True)
class GateStatus:
    result: ScreeningResult | None
    consulted: bool
    consent: ConsentSignature | None  # the signature on the current form version still in force
    withdrawn_consent: ConsentSignature | None  # the latest withdrawn one, to say so plainly
    blockers: tuple[str, ...]

    @property
    def open(self) -> bool:
        return not self.blockers


def gate_statuses(patients) -> dict[int, GateStatus]:
    """The gate of each patient, keyed by patient id, in a fixed number of queries however many patients (the
    dosing room shows it for everyone in the session)."""
    patient_ids = [patient.pk for patient in patients]
    latest_ids = (
        ScreeningResult.objects.filter(patient_id__in=patient_ids)
        .values("patient_id")
        .annotate(latest_id=Max("id"))
        .values("latest_id")
    )
    results = {
        result.patient_id: result
        for result in ScreeningResult.objects.filter(pk__in=latest_ids).select_related(
            "override", "override__prescriber"
        )
    }
    consulted = set(
        Consultation.objects.filter(
            patient_id__in=patient_ids, outcome__in=Consultation.CONSULTED_OUTCOMES
        ).values_list("patient_id", flat=True)
    )
    form = current_form()
    in_force, withdrawn = {}, {}
    # Newest first, so the first signature in force seen for a patient is the one that counts.
    for signature in ConsentSignature.objects.filter(
        patient_id__in=patient_ids, form_id=form.id, form_version=form.version
    ).order_by("patient_id", "-signed_at", "-id"):
        if signature.withdrawn_at is None:
            in_force.setdefault(signature.patient_id, signature)
        elif (
            signature.patient_id not in withdrawn
            or signature.withdrawn_at > withdrawn[signature.patient_id].withdrawn_at
        ):
            withdrawn[signature.patient_id] = signature  # the latest withdrawal, to say so plainly
    return {
        patient_id: _status(
            results.get(patient_id), patient_id in consulted, in_force.get(patient_id), withdrawn.get(patient_id), form
        )
        for patient_id in patient_ids
    }


def _status(result, consulted: bool, consent, withdrawn, form) -> GateStatus:
    blockers = []
    if result is None:
        blockers.append("screening has not been done")
    elif result.decision == Decision.NOT_ELIGIBLE:
        blockers.append("screening decision is not eligible, which cannot be overridden")
    elif result.decision == Decision.NEEDS_REVIEW and not hasattr(result, "override"):
        blockers.append("screening decision is needs review without a prescriber's override")
    if not consulted:
        blockers.append("the outside treatment team has not been consulted")
    if consent is not None:
        withdrawn = None  # an old withdrawal is no news while a signature is in force
    elif withdrawn is not None:
        blockers.append(f"informed consent (form v{form.version}) was withdrawn on {withdrawn.withdrawn_at:%Y-%m-%d}")
    else:
        blockers.append(f"informed consent is not signed (form v{form.version})")
    return GateStatus(result, consulted, consent, withdrawn, tuple(blockers))


def gate_status(*, patient) -> GateStatus:
    return gate_statuses([patient])[patient.pk]


def enrolment_blockers(*, patient) -> list[str]:
    """Plain-language reasons the patient cannot join a group yet; an empty list means they may."""
    return list(gate_status(patient=patient).blockers)
