"""Every write to screening records: intake versions, screenings, overrides, consultations and consent.

Each function is keyword-only, atomic and writes its audit row in the same transaction, so a change and its
audit entry land together or not at all. Refusals raise ScreeningRefused with a message for the person acting.
"""

import datetime

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from kapstone.accounts.models import User
from kapstone.accounts.roles import RECORD_ROLES, Role
from kapstone.audit import services as audit
from kapstone.patients.models import ExternalClinician, Patient
from kapstone.practice.settings_store import practice_overrides
from kapstone.practice.signals import safety_event
from kapstone.practice.storage import removed_if_not_saved
from kapstone.practice.templatetags.kapstone_tags import day_in_words
from kapstone.screening import engine
from kapstone.screening.changes import intake_changes, reason_changes
from kapstone.screening.consent_forms import ConsentForm, current_form
from kapstone.screening.engine import Data
from kapstone.screening.models import (
    ConsentSignature,
    Consultation,
    ConsultationOverride,
    Decision,
    IntakeVersion,
    ScreeningOverride,
    ScreeningResult,
)
from kapstone.screening.uploads import reply_file_kind

MIN_JUSTIFICATION_CHARS = 40
SETTINGS_PREFIX = "screening"


class ScreeningRefused(ValueError):
    """The action cannot be done; the message says why in the clinic's words."""


def _new_version(*, actor: User, patient: Patient, data: Data, source: str, complete: bool) -> IntakeVersion:
    # Lock the patient row so two saves at once get consecutive numbers rather than a unique-constraint error.
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    last = IntakeVersion.objects.filter(patient=patient).aggregate(last=Max("number"))["last"] or 0
    version = IntakeVersion.objects.create(
        patient=patient, number=last + 1, data=data, source=source, is_complete=complete, author=actor
    )
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        patient=patient,
        object_type="intake_version",
        object_id=version.pk,
        detail={"number": version.number, "source": source, "complete": complete},
    )
    return version


def _screen(*, actor: User, patient: Patient, version: IntakeVersion) -> ScreeningResult:
    try:
        outcome = engine.screen(version.data, settings_overrides=practice_overrides(SETTINGS_PREFIX))
    except engine.SettingsOverrideError as error:
        raise ScreeningRefused(f"The practice's screening settings need fixing first: {error}.") from None
    answer = outcome.to_dict()
    previous = ScreeningResult.objects.filter(patient=patient).select_related("intake_version").first()
    changes: Data = {}
    if previous is not None:
        added, removed = reason_changes(previous.reasons, answer["reasons"])
        changes = {
            "previous_result_id": previous.pk,
            "decision_before": previous.decision,
            "rule_set_before": previous.rule_set_version,
            "fields": intake_changes(previous.intake_version.data, version.data),
            "reasons_added": added,
            "reasons_removed": removed,
        }
    result = ScreeningResult.objects.create(
        patient=patient,
        intake_version=version,
        decision=outcome.decision,
        reasons=answer["reasons"],
        treatment_resistant=outcome.treatment_resistant,
        maudsley_score=outcome.maudsley_score,
        rule_set_version=outcome.rule_set_version,
        result=answer,
        changes=changes,
        screened_by=actor,
    )
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        patient=patient,
        object_type="screening_result",
        object_id=result.pk,
        detail={
            "decision": result.decision,
            "decision_before": changes.get("decision_before"),
            "intake_version": version.number,
            "rule_set_version": result.rule_set_version,
            "rules": [reason["rule"] for reason in result.reasons],
            "fields_changed": [change["field"] for change in changes.get("fields", [])],
        },
    )
    return result


@transaction.atomic
def intake_save(*, actor: User, patient: Patient, data: Data) -> tuple[IntakeVersion, ScreeningResult]:
    """Saves a complete intake as a new version and screens it. Raises engine.IntakeValidationError, listing
    every problem, when the intake breaks the schema; nothing is saved then."""
    checked = engine.validate_intake(data)
    version = _new_version(actor=actor, patient=patient, data=checked, source=IntakeVersion.Source.STAFF, complete=True)
    return version, _screen(actor=actor, patient=patient, version=version)


@transaction.atomic
def pre_intake_submit(*, actor: User, patient: Patient, data: Data) -> IntakeVersion:
    """A patient's own answers, kept as a draft for staff to review and complete; it is not screened."""
    if actor.role != Role.PATIENT or patient.user_id != actor.pk:
        raise ScreeningRefused("Only the patient can send their own pre-intake.")
    return _new_version(actor=actor, patient=patient, data=data, source=IntakeVersion.Source.PATIENT, complete=False)


@transaction.atomic
def screening_run(*, actor: User, patient: Patient) -> ScreeningResult:
    """Screens the latest complete intake again, e.g. after the rule set or a practice setting changed."""
    version = IntakeVersion.objects.filter(patient=patient, is_complete=True).first()
    if version is None:
        raise ScreeningRefused("There is no complete intake to screen yet: complete the intake first.")
    return _screen(actor=actor, patient=patient, version=version)


@transaction.atomic
def override_record(*, actor: User, result: ScreeningResult, justification: str) -> ScreeningOverride:
    """A prescriber's override of one "needs review" result, with a written justification."""
    result = ScreeningResult.objects.select_for_update().get(pk=result.pk)
    justification = justification.strip()
    if actor.role != Role.PRESCRIBER:
        raise ScreeningRefused("Only a prescriber may override a screening decision.")
    if result.decision == Decision.NOT_ELIGIBLE:
        raise ScreeningRefused(
            "A “not eligible” decision cannot be overridden: an absolute contraindication or the practice's "
            "treatment-resistance rule applies. Correct the intake if it is wrong."
        )
    if result.decision != Decision.NEEDS_REVIEW:
        raise ScreeningRefused("Only a “needs review” decision can be overridden; this one is eligible.")
    latest_id = ScreeningResult.objects.filter(patient_id=result.patient_id).values_list("id", flat=True).first()
    if latest_id != result.pk:
        raise ScreeningRefused("A newer screening replaced this one; review and override the current result.")
    if ScreeningOverride.objects.filter(result=result).exists():
        raise ScreeningRefused("This screening result is already overridden.")
    if len(justification) < MIN_JUSTIFICATION_CHARS:
        raise ScreeningRefused(
            f"Write a justification of at least {MIN_JUSTIFICATION_CHARS} characters: why is it safe to go ahead "
            "despite the reasons listed?"
        )
    override = ScreeningOverride.objects.create(result=result, prescriber=actor, justification=justification)
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        patient_id=result.patient_id,
        object_type="screening_override",
        object_id=override.pk,
        detail={"result_id": result.pk, "rules": [reason["rule"] for reason in result.reasons]},
    )
    return override


@transaction.atomic
def consultation_record(
    *,
    actor: User,
    patient: Patient,
    external_clinician: ExternalClinician | None = None,
    clinician_name: str = "",
    staff: User,
    contacted_at: datetime.datetime,
    method: str,
    outcome: str,
    notes: str = "",
    reply_file: "UploadedFile[bytes] | None" = None,
) -> Consultation:
    """Logs one contact with the outside treatment team, with the team's reply attached if there is one."""
    if external_clinician is not None and external_clinician.patient_id != patient.pk:
        raise ScreeningRefused("That clinician is not on this patient's outside treatment team.")
    name = clinician_name.strip() or (str(external_clinician) if external_clinician else "")
    if not name:
        raise ScreeningRefused("Choose the outside clinician, or type who was contacted.")
    if external_clinician is None:
        _refuse_a_listed_clinician_typed(patient=patient, name=name)
    # The form's choices (an active clinician or the admin): a researcher, who sees de-identified data only, or a
    # login deactivated since did not make the contact the enrolment gate relies on.
    if not staff.is_active or staff.role not in RECORD_ROLES:
        raise ScreeningRefused("The person who made contact must be an active clinician or the practice admin.")
    if contacted_at > timezone.now() + datetime.timedelta(minutes=5):
        raise ScreeningRefused("The contact time is in the future.")
    if method not in Consultation.Method.values or outcome not in Consultation.Outcome.values:
        raise ScreeningRefused("Choose how the team was contacted and what they said.")
    entry = Consultation(
        patient=patient,
        external_clinician=external_clinician,
        clinician_name=name[:200],
        staff=staff,
        contacted_at=contacted_at,
        method=method,
        outcome=outcome,
        notes=notes.strip(),
        recorded_by=actor,
    )
    if reply_file is not None:
        try:
            content_type, extension = reply_file_kind(reply_file)
        except ValidationError as problem:
            raise ScreeningRefused(problem.messages[0]) from None
        entry.reply_content_type = content_type
        entry.reply_file.save(f"reply{extension}", reply_file, save=False)
    with removed_if_not_saved(entry.reply_file):
        entry.save()
        audit.record(
            action=audit.Action.CREATE,
            actor=actor,
            patient=patient,
            object_type="consultation",
            object_id=entry.pk,
            detail={
                "method": method,
                "outcome": outcome,
                "external_clinician_id": external_clinician.pk if external_clinician else None,
                "staff_id": staff.pk,
                "reply_attached": bool(entry.reply_file),
            },
        )
    return entry


def _refuse_a_listed_clinician_typed(*, patient: Patient, name: str) -> None:
    """A contact typed by the name of a clinician on the patient's outside-team list is refused: the enrolment gate
    counts a contact as a listed clinician's advice only when they are chosen from the list (a typed name carries no
    kind, so it cannot be told to be that psychiatrist or therapist), and typed it would leave their advice missing, or
    their earlier concerns standing beside advice that replaces them. Chosen, it counts."""
    probe = Consultation(clinician_name=name)
    for clinician in ExternalClinician.objects.filter(patient=patient).order_by("kind", "name", "pk"):
        if probe.typed_for(clinician):
            raise ScreeningRefused(
                f"{clinician.name} is on the outside team list ({clinician.get_kind_display().lower()}): choose them "
                "as the outside clinician, so the contact counts as their advice. Type a name only for someone not "
                "on the list."
            )


@transaction.atomic
def consultation_override_record(*, actor: User, consultation: Consultation, reason: str) -> ConsultationOverride:
    """A prescriber's written decision to go ahead despite the outside team's concerns or advice against KAP, or
    without the advice of an outside clinician after a contact that had no reply or that they declined (the gate
    waits for the advice of the clinicians whose kind the practice requires)."""
    consultation = Consultation.objects.select_for_update().get(pk=consultation.pk)
    reason = reason.strip()
    if actor.role != Role.PRESCRIBER:
        raise ScreeningRefused("Only a prescriber may override the outside team's advice.")
    without_advice = consultation.outcome in Consultation.NO_ANSWER_OUTCOMES
    if consultation.outcome not in Consultation.BLOCKING_OUTCOMES and not without_advice:
        raise ScreeningRefused(
            "Only concerns or advice against KAP, or a contact that had no reply or that the clinician declined, can "
            f"be overridden; this contact is “{consultation.get_outcome_display()}”."
        )
    if without_advice:
        _check_no_answer_is_the_latest(consultation)
    if ConsultationOverride.objects.filter(consultation=consultation).exists():
        raise ScreeningRefused("This advice is already overridden.")
    if len(reason) < MIN_JUSTIFICATION_CHARS:
        despite = "without their advice" if without_advice else "despite the outside team's advice"
        raise ScreeningRefused(
            f"Write a reason of at least {MIN_JUSTIFICATION_CHARS} characters: why is it safe to go ahead {despite}?"
        )
    override = ConsultationOverride.objects.create(consultation=consultation, prescriber=actor, reason=reason)
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        patient_id=consultation.patient_id,
        object_type="consultation_override",
        object_id=override.pk,
        detail={"consultation_id": consultation.pk, "outcome": consultation.outcome},
    )
    return override


def _check_no_answer_is_the_latest(consultation: Consultation) -> None:
    """A decision to go ahead without a clinician's advice is taken on their latest contact, with a clinician on the
    patient's outside team (the gate asks for those), who has given no advice: one who has is consulted."""
    if consultation.external_clinician_id is None:
        raise ScreeningRefused(
            "Only a contact with a clinician on the patient's outside treatment team can be gone ahead without; add "
            "them to the outside team on the patient record and log the contact with them."
        )
    contacts = Consultation.objects.filter(external_clinician_id=consultation.external_clinician_id).order_by(
        "-contacted_at", "-pk"
    )
    latest = contacts.first()
    if latest is not None and latest.pk != consultation.pk:
        raise ScreeningRefused(
            f"A later contact with {consultation.clinician_name} is logged; record the decision on that one."
        )
    if contacts.filter(outcome__in=Consultation.CONSULTED_OUTCOMES).exists():
        raise ScreeningRefused(f"{consultation.clinician_name} has given advice already: nothing to go ahead without.")


def _normalised_name(name: str) -> str:
    return " ".join(name.casefold().split())


def _check_signed_name(patient: Patient, typed: str) -> None:
    if _normalised_name(typed) != _normalised_name(patient.full_name):
        raise ScreeningRefused("The name typed must be the full name on the record, given name then family name.")


def _refuse_if_already_signed(patient: Patient, form: ConsentForm) -> None:
    if ConsentSignature.objects.filter(
        patient=patient, form_id=form.id, form_version__in=form.accepted_versions, withdrawn_at__isnull=True
    ).exists():
        raise ScreeningRefused(f"Consent (form v{form.version}) is already signed.")


def _refuse_if_signed_before_a_withdrawal(patient: Patient, signed_at: datetime.datetime) -> None:
    """A withdrawal withdraws what the patient had signed until then: a signature dated before it (a paper copy from
    the intake found in the file) would otherwise count as a consent in force and open the enrolment gate again."""
    withdrawal = (
        ConsentSignature.objects.filter(patient=patient, withdrawn_at__gt=signed_at).order_by("-withdrawn_at").first()
    )
    if withdrawal is not None:
        assert withdrawal.withdrawn_at is not None  # filtered on it
        raise ScreeningRefused(
            f"{patient.full_name} withdrew consent on {day_in_words(withdrawal.withdrawn_at)}, after the signing time "
            "given: a signature from before then was withdrawn with it. Record the consent the patient signs anew."
        )


def _sign(
    *, actor: User, patient: Patient, kind: str, typed_name: str, signed_at: datetime.datetime, ip_address: str
) -> ConsentSignature:
    form = current_form()
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    _refuse_if_already_signed(patient, form)
    _refuse_if_signed_before_a_withdrawal(patient, signed_at)
    signature = ConsentSignature.objects.create(
        patient=patient,
        form_id=form.id,
        form_version=form.version,
        text_sha256=form.sha256,
        kind=kind,
        signed_name=" ".join(typed_name.split()),
        signed_at=signed_at,
        ip_address=ip_address[:45],
        recorded_by=actor,
    )
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        patient=patient,
        object_type="consent_signature",
        object_id=signature.pk,
        detail={"form": form.id, "version": form.version, "sha256": form.sha256, "kind": kind},
    )
    return signature


@transaction.atomic
def consent_sign(
    *, actor: User, patient: Patient, typed_name: str, understood: bool, ip_address: str
) -> ConsentSignature:
    """The patient's electronic signature in the portal: their typed full name and "I have read and understood"."""
    if actor.role != Role.PATIENT or patient.user_id != actor.pk:
        raise ScreeningRefused("Only the patient can sign their own consent electronically.")
    if not understood:
        raise ScreeningRefused("Tick “I have read and understood” to sign.")
    _check_signed_name(patient, typed_name)
    return _sign(
        actor=actor,
        patient=patient,
        kind=ConsentSignature.Kind.ELECTRONIC,
        typed_name=typed_name,
        signed_at=timezone.now(),
        ip_address=ip_address,
    )


@transaction.atomic
def consent_record_paper(
    *, actor: User, patient: Patient, signed_name: str, signed_at: datetime.datetime
) -> ConsentSignature:
    """A paper signature on the current form, witnessed by the member of staff who records it."""
    if not actor.is_staff_member or actor.role == Role.RESEARCHER:
        raise ScreeningRefused("Only clinical staff or an admin can witness a paper consent.")
    if signed_at > timezone.now() + datetime.timedelta(minutes=5):
        raise ScreeningRefused("The signing time is in the future.")
    _check_signed_name(patient, signed_name)
    return _sign(
        actor=actor,
        patient=patient,
        kind=ConsentSignature.Kind.PAPER,
        typed_name=signed_name,
        signed_at=signed_at,
        ip_address="",
    )


@transaction.atomic
def consent_withdraw(*, actor: User, signature: ConsentSignature, reason: str = "") -> ConsentSignature:
    """Withdraws a consent. The patient need give no reason; staff recording it for them say how they heard."""
    signature = ConsentSignature.objects.select_for_update().get(pk=signature.pk)
    is_own = actor.role == Role.PATIENT and signature.patient.user_id == actor.pk
    if not is_own and not (actor.is_staff_member and actor.role != Role.RESEARCHER):
        raise ScreeningRefused("Only the patient or their clinical staff can withdraw this consent.")
    if signature.is_withdrawn:
        raise ScreeningRefused("This consent is already withdrawn.")
    if not is_own and not reason.strip():
        raise ScreeningRefused("Say how the patient withdrew (for example: by phone to the nurse).")
    signature.withdrawn_at = timezone.now()
    signature.withdrawn_by = actor
    signature.withdrawal_reason = reason.strip()
    signature.save(update_fields=["withdrawn_at", "withdrawn_by", "withdrawal_reason"])
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        patient_id=signature.patient_id,
        object_type="consent_signature",
        object_id=signature.pk,
        detail={"withdrawn": True, "by_patient": is_own},
    )
    patient_id, signature_id = signature.patient_id, signature.pk
    transaction.on_commit(
        lambda: safety_event.send(
            sender=ConsentSignature,
            kind="consent_withdrawn",
            level="review",
            patient_id=patient_id,
            summary="Consent withdrawn" + (" by the patient in the portal." if is_own else ", recorded by staff."),
            object_type="consent_signature",
            object_id=signature_id,
        )
    )
    return signature
