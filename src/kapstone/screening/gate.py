"""The enrolment gate: a patient may join a group course only when all three hold.

1. The latest screening decision is eligible, or it is "needs review" and a prescriber has overridden that very
   result with a written justification. "Not eligible" can never be overridden.
2. The outside treatment team has been consulted (a contact whose outcome is "supports" or "concerns").
3. The current version of the informed-consent form is signed and not withdrawn.

program.services.enrol calls enrolment_blockers(); the screening page shows the same reasons.
"""

from dataclasses import dataclass

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


def latest_result(patient) -> ScreeningResult | None:
    return ScreeningResult.objects.filter(patient=patient).select_related("override", "override__prescriber").first()


def gate_status(*, patient) -> GateStatus:
    blockers = []
    result = latest_result(patient)
    if result is None:
        blockers.append("screening has not been done")
    elif result.decision == Decision.NOT_ELIGIBLE:
        blockers.append("screening decision is not eligible, which cannot be overridden")
    elif result.decision == Decision.NEEDS_REVIEW and not hasattr(result, "override"):
        blockers.append("screening decision is needs review without a prescriber's override")

    consulted = Consultation.objects.filter(patient=patient, outcome__in=Consultation.CONSULTED_OUTCOMES).exists()
    if not consulted:
        blockers.append("the outside treatment team has not been consulted")

    form = current_form()
    signatures = ConsentSignature.objects.filter(patient=patient, form_id=form.id, form_version=form.version)
    consent = signatures.filter(withdrawn_at__isnull=True).first()
    withdrawn = None
    if consent is None:
        withdrawn = signatures.filter(withdrawn_at__isnull=False).order_by("-withdrawn_at").first()
        if withdrawn is not None:
            blockers.append(
                f"informed consent (form v{form.version}) was withdrawn on {withdrawn.withdrawn_at:%Y-%m-%d}"
            )
        else:
            blockers.append(f"informed consent is not signed (form v{form.version})")
    return GateStatus(result, consulted, consent, withdrawn, tuple(blockers))


def enrolment_blockers(*, patient) -> list[str]:
    """Plain-language reasons the patient cannot join a group yet; an empty list means they may."""
    return list(gate_status(patient=patient).blockers)
