"""Writes in the dosing room and the controlled-substance log. Each is atomic and audited."""

import datetime
import logging
import smtplib
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from kapstone.accounts.roles import Role
from kapstone.alerts.models import StaffContact
from kapstone.alerts.providers import DeliveryFailed, deliver
from kapstone.audit import services as audit
from kapstone.dosing import catalogue, readiness, safety, selectors
from kapstone.dosing.models import (
    LARGEST_BALANCE_MG,
    AdverseEvent,
    DoseRecord,
    LedgerEntry,
    LotBalance,
    ReadinessDigest,
    RoomRiskAssessment,
    Route,
    SubstanceLot,
    VitalsReading,
)
from kapstone.dosing.signals import dose_administered
from kapstone.measures.scoring import score
from kapstone.patients.models import ChildbearingPotential, Patient
from kapstone.practice.settings_store import practice_overrides
from kapstone.practice.signals import safety_event
from kapstone.program.models import GroupSession

logger = logging.getLogger(__name__)


class DosingError(ValueError):
    """A request the room must refuse, with a message for the person holding the tablet."""


PREDOSE_BP_REVIEWED_LABEL = "I have reviewed the pre-dose BP"
# The room's screen is the measures app's C-SSRS screener (its triage rules), asked about the time since the last
# visit (the Columbia "Since Last Visit" version).
CSSRS_SCREENER = "cssrs-screener"


def _announce(*, kind: str, level: str, record: DoseRecord, summary: str, object_type: str, object_id) -> None:
    """Tells the alert queue once the write has committed (kapstone.practice.signals)."""
    transaction.on_commit(
        lambda: safety_event.send(
            sender=DoseRecord,
            kind=kind,
            level=level,
            patient_id=record.patient_id,
            summary=summary,
            object_type=object_type,
            object_id=object_id,
        )
    )


def _audit(record: DoseRecord, what: str, detail: dict | None = None) -> None:
    audit.record(
        action=audit.Action.UPDATE,
        patient_id=record.patient_id,
        object_type=f"dose_record.{what}",
        object_id=record.pk,
        detail=detail or {},
    )


def _lock(record: DoseRecord) -> None:
    """Locks the record's row and reloads it, so two tablets acting on one patient at once queue and the second
    sees what the first did: a dose given twice would be taken twice from the controlled-substance log, and a note
    written from a stale copy would erase the other tablet's note."""
    DoseRecord.objects.select_for_update().filter(pk=record.pk).first()
    record.refresh_from_db()


def _lock_open(record: DoseRecord) -> None:
    """The record lock, refused once the patient has been discharged."""
    _lock(record)
    if record.discharged_at is not None:
        raise DosingError("This patient has been discharged; the record is closed. Add a note instead.")


def _require_session_day(record: DoseRecord, *, at: datetime.datetime) -> None:
    """The session row is locked, so the session cannot be moved (program.services.session_move) while a dose is
    being given in it."""
    session = GroupSession.objects.select_for_update().get(pk=record.session_id)
    refusal = selectors.session_day_refusal(session=session, at=at)
    if refusal:
        raise DosingError(refusal)


def _require_gate(record: DoseRecord) -> None:
    refusal = selectors.dose_readiness(record=record, at=timezone.now()).gate_refusal
    if refusal:
        raise DosingError(refusal)


def _require_dose_allowed(record: DoseRecord, *, at: datetime.datetime) -> selectors.DoseReadiness:
    """Refuses a dose the room would warn about (selectors.DoseReadiness). The patient's row is locked first, so two
    rooms dosing the same patient at once queue and the second counts the first's dose."""
    Patient.objects.select_for_update().filter(pk=record.patient_id).first()
    readiness = selectors.dose_readiness(record=record, at=at)
    if readiness.blockers:
        raise DosingError(" ".join(readiness.blockers))
    return readiness


@transaction.atomic
def dose_record_open(*, actor, session, patient) -> DoseRecord:
    record, created = DoseRecord.objects.get_or_create(session=session, patient=patient)
    if created:
        audit.record(action=audit.Action.CREATE, patient=patient, object_type="dose_record", object_id=record.pk)
    return record


@transaction.atomic
def check_in(
    *,
    actor,
    record: DoseRecord,
    fasting_confirmed: bool,
    escort_arranged: bool,
    pregnancy_test: str,
    intention: str,
    weight_kg,
    pregnancy_test_on: datetime.date | None = None,
    medication_changes: str = "",
    new_medications: str = "",
) -> DoseRecord:
    _lock_open(record)
    if record.administered_at is not None:
        raise DosingError("The dose has been given; the checklist is closed. Add a note instead.")
    _require_session_day(record, at=timezone.now())
    _require_gate(record)
    if pregnancy_test == DoseRecord.PregnancyTest.POSITIVE:
        raise DosingError("A positive pregnancy test is an absolute contraindication: do not dose (Spravato label).")
    patient = Patient.objects.get(pk=record.patient_id)
    if (
        pregnancy_test == DoseRecord.PregnancyTest.NOT_APPLICABLE
        and patient.childbearing_potential != ChildbearingPotential.NO
    ):
        raise DosingError(
            'A pregnancy test is "not applicable" only where the patient record documents no childbearing '
            "potential; a clinician records that on the patient's page. Otherwise record a negative test."
        )
    if pregnancy_test == DoseRecord.PregnancyTest.NEGATIVE and pregnancy_test_on is None:
        raise DosingError("Give the day the negative pregnancy test was taken.")
    if pregnancy_test_on is not None and pregnancy_test_on > timezone.localdate():
        raise DosingError("The pregnancy test cannot have been taken in the future.")
    if medication_changes == DoseRecord.MedicationChanges.CHANGED and not new_medications.strip():
        raise DosingError("Name the medicines that changed since screening, one a line.")
    if medication_changes != DoseRecord.MedicationChanges.CHANGED:
        new_medications = ""
    record.fasting_confirmed, record.escort_arranged = fasting_confirmed, escort_arranged
    record.pregnancy_test, record.intention, record.weight_kg = pregnancy_test, intention, weight_kg
    record.pregnancy_test_on = pregnancy_test_on if pregnancy_test == DoseRecord.PregnancyTest.NEGATIVE else None
    record.medication_changes, record.new_medications = medication_changes, new_medications.strip()
    record.checked_in_at = record.checked_in_at or timezone.now()
    record.full_clean()
    record.save()
    # The intention is the patient's own words: the trail says whether one was given, not what it says.
    _audit(
        record,
        "checklist",
        {
            "fasting": fasting_confirmed,
            "escort": escort_arranged,
            "pregnancy_test": pregnancy_test,
            "pregnancy_test_on": pregnancy_test_on.isoformat() if record.pregnancy_test_on else None,
            "weight_kg": None if weight_kg is None else str(weight_kg),
            "intention_given": bool(intention.strip()),
            "medication_changes": medication_changes,
            "new_medications": len(record.new_medications.splitlines()) if record.new_medications else 0,
        },
    )
    return record


def checklist_complete(record: DoseRecord) -> list[str]:
    """What is still missing before a dose may be given (the same-day safety gate is selectors.DoseReadiness)."""
    missing = []
    if not record.fasting_confirmed:
        missing.append("fasting not confirmed")
    if not record.escort_arranged:
        missing.append("no escort or ride home arranged")
    if not record.pregnancy_test:
        missing.append("pregnancy test not recorded (mark not applicable where it is)")
    if not record.medication_changes:
        missing.append("medication changes since screening not asked")
    if selectors.room_thresholds()["room_suicide_screen"] and not record.risk_assessments.exists():
        missing.append("no same-day suicide screen (C-SSRS since last visit)")
    predose = record.vitals.filter(phase=VitalsReading.Phase.PRE_DOSE).order_by("-taken_at", "-id").first()
    if predose is None:
        missing.append("no pre-dose vitals")
    elif record.route in safety.RESPIRATORY_RATE_ROUTES and predose.respiratory_rate is None:
        missing.append(f"no respiratory rate on the pre-dose vitals ({Route(record.route).label} dose)")
    return missing


@transaction.atomic
def dose_order(
    *, actor, record: DoseRecord, route: str, dose_mg: Decimal, predose_bp_reviewed: bool = False
) -> safety.CeilingCheck:
    """`predose_bp_reviewed`: the prescriber's acknowledgement of a review-level pre-dose reading, needed only when
    the latest pre-dose reading is at that level. An order on a route with no ceiling is refused."""
    _lock_open(record)
    if actor.role != Role.PRESCRIBER:
        raise DosingError("Only a prescriber can order a dose.")
    if record.administered_at is not None:
        raise DosingError("The dose has already been given; it cannot be re-ordered.")
    if dose_mg <= 0:
        raise DosingError("The dose must be more than 0 mg.")
    check = safety.check_ceiling(
        route=route, dose_mg=dose_mg, weight_kg=record.weight_kg, overrides=practice_overrides("dosing")
    )
    if check.within is not True:
        raise DosingError(check.message)
    readiness = _require_dose_allowed(record, at=timezone.now())
    if readiness.vitals_review and not predose_bp_reviewed:
        raise DosingError(f'{readiness.vitals_review} Tick "{PREDOSE_BP_REVIEWED_LABEL}" to order.')
    reviewed = readiness.predose_reading if readiness.vitals_review else None
    record.route, record.dose_mg = route, dose_mg
    record.ordered_by, record.ordered_at, record.ceiling_note = actor, timezone.now(), check.message
    record.predose_review_reading = reviewed
    record.save()
    detail = {"route": route, "dose_mg": str(dose_mg), "ceiling": check.message}
    if reviewed:
        detail["predose_bp_reviewed"] = {"reading_id": reviewed.pk, "alerts": reviewed.alert_messages}
    _audit(record, "order", detail)
    return check


def _lot_refusal(lot: SubstanceLot, *, route: str) -> str:
    if lot.for_disposal:
        return f"{lot} was received for disposal; it is never given."
    if lot.expires_on < timezone.localdate():
        return f"{lot} expired on {lot.expires_on:%Y-%m-%d}; use another lot."
    return catalogue.route_refusal(form=lot.form, route=route, route_label=Route(route).label)


@transaction.atomic
def dose_administer(*, actor, record: DoseRecord, balance: LotBalance, witness, administered_at=None) -> DoseRecord:
    _lock_open(record)
    if actor.role not in (Role.PRESCRIBER, Role.NURSE):
        raise DosingError("Only a prescriber or a nurse can give a dose.")
    if record.dose_mg is None:
        raise DosingError("There is no dose order yet.")
    if record.administered_at is not None:
        raise DosingError("This dose has already been given.")
    if witness is None or witness.pk == actor.pk:
        raise DosingError("A second staff member must witness the dose.")
    missing = checklist_complete(record)
    if missing:
        raise DosingError("The pre-dose checklist is not complete: " + "; ".join(missing) + ".")
    administered_at = administered_at or timezone.now()
    _require_session_day(record, at=administered_at)
    readiness = _require_dose_allowed(record, at=administered_at)
    if readiness.review_refusal:
        raise DosingError(readiness.review_refusal)
    # The weight may have been corrected at check-in after the order was written, or the ceiling removed.
    check = safety.check_ceiling(
        route=record.route, dose_mg=record.dose_mg, weight_kg=record.weight_kg, overrides=practice_overrides("dosing")
    )
    if check.within is not True:
        raise DosingError(f"The order no longer passes the ceiling check: {check.message} Ask for a new order.")
    refusal = _lot_refusal(balance.lot, route=record.route)
    if refusal:
        raise DosingError(refusal)
    record.administered_at = administered_at
    record.administered_by, record.witness, record.lot = actor, witness, balance.lot
    record.save()
    ledger_post(
        actor=actor,
        lot=balance.lot,
        location=balance.location,
        kind=LedgerEntry.Kind.ADMINISTRATION,
        change_mg=-record.dose_mg,
        witness=witness,
        dose_record=record,
    )
    _audit(record, "administration", {"lot": balance.lot.lot_number, "witness_id": witness.pk})
    transaction.on_commit(lambda: dose_administered.send(sender=DoseRecord, record=record))
    return record


@transaction.atomic
def vitals_record(
    *,
    actor,
    record: DoseRecord,
    phase: str,
    systolic: int,
    diastolic: int,
    heart_rate: int,
    spo2: int,
    respiratory_rate: int | None = None,
    taken_at=None,
) -> VitalsReading:
    """A respiratory rate is recorded on every reading where it was counted, and required once an IM or IV dose is
    ordered. A stop-level reading is announced to the alert queue."""
    _lock_open(record)
    if respiratory_rate is None and record.route in safety.RESPIRATORY_RATE_ROUTES:
        raise DosingError(
            f"Record the respiratory rate: it is required on every reading for a {Route(record.route).label} dose."
        )
    assessment = safety.assess_vitals(
        systolic=systolic,
        diastolic=diastolic,
        heart_rate=heart_rate,
        spo2=spo2,
        respiratory_rate=respiratory_rate,
        pre_dose=phase == VitalsReading.Phase.PRE_DOSE,
        limits=selectors.room_thresholds(),
    )
    reading = VitalsReading(
        record=record,
        phase=phase,
        taken_at=taken_at or timezone.now(),
        systolic=systolic,
        diastolic=diastolic,
        heart_rate=heart_rate,
        spo2=spo2,
        respiratory_rate=respiratory_rate,
        recorded_by=actor,
        alert_level=assessment.level,
        alert_messages=assessment.messages,
    )
    reading.full_clean()
    reading.save()
    _audit(record, "vitals", {"phase": phase, "alert": assessment.level})
    if assessment.level == "stop":
        _announce(
            kind="vitals_stop",
            level="urgent",
            record=record,
            summary="Dosing room vitals at a stop level: " + "; ".join(assessment.messages),
            object_type="vitals_reading",
            object_id=reading.pk,
        )
    return reading


@transaction.atomic
def ratings_record(*, actor, record: DoseRecord, sedation_moaas: int | None, dissociation_cadss: int | None):
    """A MOAA/S rated before the dose is kept as the patient's baseline for discharge."""
    _lock_open(record)
    scales = safety.safety_data()["scales"]
    for value, scale, label in ((sedation_moaas, "moaas", "MOAA/S"), (dissociation_cadss, "cadss_total", "CADSS")):
        if value is not None and not scales[scale]["min"] <= value <= scales[scale]["max"]:
            raise DosingError(f"{label} runs from {scales[scale]['min']} to {scales[scale]['max']}.")
    record.sedation_moaas, record.dissociation_cadss = sedation_moaas, dissociation_cadss
    record.ratings_at = timezone.now()
    if record.administered_at is None and sedation_moaas is not None:
        record.predose_moaas = sedation_moaas
    record.save(update_fields=["sedation_moaas", "dissociation_cadss", "ratings_at", "predose_moaas"])
    _audit(
        record,
        "ratings",
        {"moaas": sedation_moaas, "cadss": dissociation_cadss, "before_dose": record.administered_at is None},
    )


@transaction.atomic
def adverse_event_record(
    *, actor, record: DoseRecord, kind: str, severity: str, description: str, action_taken: str
) -> AdverseEvent:
    event = AdverseEvent(
        record=record,
        occurred_at=timezone.now(),
        kind=kind,
        severity=severity,
        description=description,
        action_taken=action_taken,
        recorded_by=actor,
    )
    event.full_clean()
    event.save()
    _audit(record, "adverse_event", {"kind": kind, "severity": severity})
    if severity == AdverseEvent.Severity.SEVERE:
        _announce(
            kind="adverse_event_serious",
            level="urgent",
            record=record,
            summary=f"Severe adverse event in the dosing room: {kind}",
            object_type="adverse_event",
            object_id=event.pk,
        )
    return event


@transaction.atomic
def risk_assessment_record(
    *,
    actor,
    record: DoseRecord,
    answers: dict[int, int] | None = None,
    clinician_level: str = "",
    decision: str = "",
    note: str = "",
) -> RoomRiskAssessment:
    """A same-day suicide-risk assessment: the C-SSRS screener since the last visit (`answers`, item number to 0 or
    1, triaged by the measures app's screener) or a clinician's `clinician_level`. Any clinician may screen; only a
    prescriber decides to proceed or defer, with a note. A moderate or high result is announced to the alert queue."""
    _lock_open(record)
    if actor.role not in (Role.PRESCRIBER, Role.NURSE, Role.THERAPIST):
        raise DosingError("Only a clinician can assess suicide risk.")
    if record.administered_at is not None:
        raise DosingError("The dose has been given; record what follows as a note or an adverse event.")
    note = note.strip()
    if decision and actor.role != Role.PRESCRIBER:
        raise DosingError("Only a prescriber decides to proceed or defer; record the screen without a decision.")
    if decision and not note:
        raise DosingError("Write a note with the decision: what was assessed and why the dose proceeds or waits.")
    if bool(answers) == bool(clinician_level):
        raise DosingError("Record either the C-SSRS screener answers or a clinician's risk level (one of the two).")
    if answers:
        result = score(CSSRS_SCREENER, answers)
        if not result.complete:
            missing = ", ".join(str(number) for number in result.missing_items)
            raise DosingError(f"Answer every question the screener asks (still unanswered: {missing}).")
        method, level = RoomRiskAssessment.Method.CSSRS, result.risk
        stored = {str(number): value for number, value in sorted(answers.items()) if value is not None}
    else:
        if clinician_level not in RoomRiskAssessment.Level.values:
            raise DosingError("Choose the clinician's risk level.")
        method, level, stored = RoomRiskAssessment.Method.CLINICIAN, clinician_level, {}
    assessment = RoomRiskAssessment.objects.create(
        record=record,
        method=method,
        answers=stored,
        risk_level=level,
        decision=decision,
        note=note,
        recorded_by=actor,
        recorded_at=timezone.now(),
    )
    # The level and decision, never the answers or the note: the trail is not a second copy of the assessment.
    _audit(record, "risk_assessment", {"id": assessment.pk, "method": method, "level": level, "decision": decision})
    if safety.blocking_risk(level):
        _announce(
            kind="room_suicide_screen",
            level="urgent",
            record=record,
            summary=f"Same-day suicide-risk {assessment.get_method_display().lower()} in the dosing room: {level} risk",
            object_type="room_risk_assessment",
            object_id=assessment.pk,
        )
    return assessment


@transaction.atomic
def medication_review(*, actor, record: DoseRecord, note: str) -> list[str]:
    """The prescriber's review of the new medicines waiting for one, with a note; returns the names reviewed."""
    _lock_open(record)
    if actor.role != Role.PRESCRIBER:
        raise DosingError("Only a prescriber reviews new medicines before a dose.")
    if not note.strip():
        raise DosingError("Write what was decided about the new medicines.")
    waiting = selectors.dose_readiness(record=record, at=timezone.now()).medicines_to_review
    if not waiting:
        raise DosingError("No new medicine is waiting for a review.")
    names = [medicine.name for medicine in waiting]
    record.medication_reviewed = [*record.medication_reviewed, *names]
    stamp = f"{timezone.localtime():%H:%M} {actor.get_username()}"
    record.medication_review_note = f"{record.medication_review_note}\n[{stamp}] {note.strip()}".strip()
    record.medication_reviewed_by, record.medication_reviewed_at = actor, timezone.now()
    record.save(
        update_fields=[
            "medication_reviewed",
            "medication_review_note",
            "medication_reviewed_by",
            "medication_reviewed_at",
        ]
    )
    _audit(record, "medication_review", {"medicines": len(names)})
    return names


@transaction.atomic
def note_add(*, actor, record: DoseRecord, text: str) -> None:
    """Open to the end: a note is what the room writes once the record is closed."""
    _lock(record)
    stamp = timezone.localtime().strftime("%H:%M")
    record.notes = f"{record.notes}\n[{stamp} {actor.get_username()}] {text}".strip()
    record.save(update_fields=["notes"])
    _audit(record, "note")


def _recovery_problems(record: DoseRecord, limits: dict, *, attested: bool) -> list[str]:
    """Sedation back to baseline (MOAA/S 5, or the lower pre-dose rating) and dissociation resolved (CADSS at or
    below the practice's level, or a clinician's attestation), rated after the dose."""
    if record.ratings_at is None or record.ratings_at <= record.administered_at:
        return ["rate sedation (MOAA/S) and dissociation (CADSS) after the dose"]
    problems = []
    baseline = safety.discharge_moaas_baseline()
    if record.predose_moaas is not None:
        baseline = min(baseline, record.predose_moaas)
    if record.sedation_moaas is None or record.sedation_moaas < baseline:
        problems.append(f"sedation not back to baseline (MOAA/S {record.sedation_moaas}, needs {baseline})")
    cadss_max = limits["discharge_cadss_max"]
    if not attested and (record.dissociation_cadss is None or record.dissociation_cadss > cadss_max):
        problems.append(
            f"dissociation not resolved (CADSS {record.dissociation_cadss}, needs {cadss_max} or less, or a "
            "clinician's attestation with a note)"
        )
    return problems


@transaction.atomic
def discharge(
    *,
    actor,
    record: DoseRecord,
    vitals_ok: bool,
    alert_oriented: bool,
    escort_present: bool,
    dissociation_attested: bool = False,
    attestation_note: str = "",
    now=None,
) -> DoseRecord:
    _lock_open(record)
    now = now or timezone.now()
    problems = []
    if not (vitals_ok and alert_oriented and escort_present):
        problems.append("every discharge check must be confirmed")
    attestation_note = attestation_note.strip()
    if dissociation_attested and not attestation_note:
        problems.append("write a note with the attestation that dissociation has resolved")
    last = record.vitals.order_by("-taken_at", "-id").first()
    if last is None or last.phase != VitalsReading.Phase.DISCHARGE:
        problems.append("take discharge vitals first")
    elif last.alert_level:
        problems.append("the last vitals are outside the practice's limits")
    if record.administered_at is not None:
        limits = selectors.room_thresholds()
        post_dose = selectors.post_dose_vitals(record, limits=limits, now=now)
        if not post_dose.done:
            problems.append(
                f"no vitals taken {post_dose.minutes_after_dose} minutes or more after the dose "
                f'(record them as "{VitalsReading.Phase.PEAK.label}")'
            )
        minimum = limits["min_observation_minutes"]
        observed = (now - record.administered_at).total_seconds() / 60
        if observed < minimum:
            problems.append(f"observed {observed:.0f} of the minimum {minimum} minutes after the dose")
        problems += _recovery_problems(record, limits, attested=dissociation_attested and bool(attestation_note))
    if problems:
        raise DosingError("Not ready for discharge: " + "; ".join(problems) + ".")
    record.discharge_vitals_ok, record.discharge_alert_oriented = vitals_ok, alert_oriented
    record.discharge_escort_present, record.discharged_at, record.discharged_by = escort_present, now, actor
    if dissociation_attested:
        record.dissociation_attested_by, record.dissociation_attestation_note = actor, attestation_note
    record.save()
    _audit(record, "discharge", {"dissociation_attested": dissociation_attested})
    return record


# The controlled-substance log ---------------------------------------------------------------------------


def _locked_balance(lot: SubstanceLot, location: str, *, create: bool) -> LotBalance:
    if create:
        try:
            with transaction.atomic():
                LotBalance.objects.get_or_create(lot=lot, location=location)
        except IntegrityError:
            pass  # another writer created it a moment ago; the locked read below finds it
    try:
        return LotBalance.objects.select_for_update().get(lot=lot, location=location)
    except LotBalance.DoesNotExist:
        raise DosingError(f"There is no stock of {lot} at {location}.") from None


@transaction.atomic
def ledger_post(
    *,
    actor,
    lot: SubstanceLot,
    location: str,
    kind: str,
    change_mg: Decimal,
    witness=None,
    dose_record=None,
    corrects=None,
    reason: str = "",
    counted_mg: Decimal | None = None,
) -> LedgerEntry:
    """Appends one entry and moves the lot's balance under a row lock, so concurrent writers queue and the
    balance never goes below zero."""
    if kind in (LedgerEntry.Kind.WASTE, LedgerEntry.Kind.CORRECTION, LedgerEntry.Kind.ADMINISTRATION) and (
        witness is None or witness.pk == actor.pk
    ):
        raise DosingError("A second staff member must witness this entry.")
    if kind in (LedgerEntry.Kind.WASTE, LedgerEntry.Kind.CORRECTION) and not reason.strip():
        raise DosingError("Give the reason for this entry.")
    if kind == LedgerEntry.Kind.CORRECTION:
        if corrects is None:
            raise DosingError("Choose the entry this correction corrects.")
        if (corrects.lot_id, corrects.location) != (lot.pk, location):
            raise DosingError(f"The entry corrected must be one of {lot} at {location}.")
    elif corrects is not None:
        raise DosingError("Only a correction corrects another entry.")
    if kind == LedgerEntry.Kind.RECEIPT and change_mg <= 0:
        raise DosingError("A receipt must add a positive amount.")
    if kind in (LedgerEntry.Kind.WASTE, LedgerEntry.Kind.ADMINISTRATION) and change_mg >= 0:
        raise DosingError("Waste and administration remove a positive amount.")
    balance = _locked_balance(lot, location, create=kind == LedgerEntry.Kind.RECEIPT)
    discrepancy = None
    if kind == LedgerEntry.Kind.COUNT:
        if counted_mg is None or counted_mg < 0:
            raise DosingError("Enter the amount counted (0 or more).")
        change_mg, discrepancy = Decimal("0"), counted_mg - balance.balance_mg
    new_balance = balance.balance_mg + change_mg
    if new_balance < 0:
        raise DosingError(
            f"Only {balance.balance_mg} mg of {lot} is left at {location}; this entry would take {-change_mg} mg."
        )
    if new_balance > LARGEST_BALANCE_MG:
        raise DosingError(
            f"{lot} at {location} holds {balance.balance_mg} mg; adding {change_mg} mg would exceed the "
            f"{LARGEST_BALANCE_MG} mg a balance can record. Check the amount."
        )
    balance.balance_mg = new_balance
    balance.save(update_fields=["balance_mg"])
    entry = LedgerEntry.objects.create(
        lot=lot,
        location=location,
        kind=kind,
        change_mg=change_mg,
        balance_after_mg=new_balance,
        counted_mg=counted_mg,
        discrepancy_mg=discrepancy,
        recorded_at=timezone.now(),
        recorded_by=actor,
        witness=witness,
        dose_record=dose_record,
        corrects=corrects,
        reason=reason,
    )
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        object_type="ledger_entry",
        object_id=entry.pk,
        patient_id=dose_record.patient_id if dose_record else None,
        detail={
            "kind": kind,
            "change_mg": str(change_mg),
            "discrepancy_mg": str(discrepancy or 0),
            "corrects_id": corrects.pk if corrects else None,
        },
    )
    if discrepancy:
        summary = f"The count of {lot} at {location} is off by {discrepancy} mg."
        entry_id = entry.pk
        transaction.on_commit(
            lambda: safety_event.send(
                sender=LedgerEntry,
                kind="ledger_discrepancy",
                level="review",
                patient_id=None,
                summary=summary,
                object_type="ledger_entry",
                object_id=entry_id,
            )
        )
    return entry


@transaction.atomic
def lot_receive(
    *,
    actor,
    drug: str,
    form: str,
    strength: Decimal,
    lot_number: str,
    expires_on,
    location: str,
    amount_mg: Decimal,
    description: str = "",
    for_disposal: bool = False,
    witness=None,
) -> LedgerEntry:
    """Receives a lot of a product in the controlled-drug catalogue. An expired lot is accepted only to be disposed
    of (a return from a patient, say), and a lot received for disposal is never offered in the room."""
    refusal = catalogue.product_refusal(drug=drug, form=form)
    if refusal:
        raise DosingError(f"{refusal} The controlled-substance log accepts only catalogue products.")
    if strength is None or strength <= 0:
        raise DosingError(f"Give the strength ({catalogue.forms()[form].strength_unit}).")
    if expires_on < timezone.localdate() and not for_disposal:
        raise DosingError(
            f"This lot expired on {expires_on:%Y-%m-%d}: an expired lot is received only for disposal "
            '(tick "Received for disposal").'
        )
    lot, created = SubstanceLot.objects.get_or_create(
        drug=drug,
        form=form,
        strength=strength,
        lot_number=lot_number,
        defaults={"expires_on": expires_on, "description": description, "for_disposal": for_disposal},
    )
    if not created and lot.expires_on != expires_on:
        raise DosingError(
            f"Lot {lot_number} is already in the log with expiry {lot.expires_on:%Y-%m-%d}; check the expiry date."
        )
    if not created and lot.for_disposal != for_disposal:
        held = "for disposal" if lot.for_disposal else "for use"
        raise DosingError(
            f"Lot {lot_number} is already in the log {held}; a lot is either for use or for disposal (a part of a "
            "lot in use that must be destroyed is recorded as witnessed waste)."
        )
    return ledger_post(
        actor=actor,
        lot=lot,
        location=location,
        kind=LedgerEntry.Kind.RECEIPT,
        change_mg=amount_mg,
        witness=witness,
        reason="received for disposal" if for_disposal else "",
    )


# Readiness ahead of the day ------------------------------------------------------------------------------------

DIGEST_SUBJECT = "Kapstone: readiness for tomorrow's dosing session"
# Operational: a digest is tried on this many sweeps before it is marked failed, and a send still under way this
# long after its claim was cut off (the mail timeout is a minute) and is taken back.
DIGEST_ATTEMPTS = 3
DIGEST_SEND_LEASE = datetime.timedelta(minutes=5)
# Errors a channel may raise that mean "try again later" rather than a fault in Kapstone.
DELIVERY_ERRORS = (DeliveryFailed, smtplib.SMTPException, ConnectionError, TimeoutError, OSError)


def digest_due_at(session: GroupSession, *, hour: int) -> datetime.datetime:
    """The practice's hour on the evening before the session's day (practice time)."""
    day_before = timezone.localdate(session.starts_at) - datetime.timedelta(days=1)
    return timezone.make_aware(datetime.datetime.combine(day_before, datetime.time(hour)))


def _digest_body(session: GroupSession, counts: selectors.SessionReadiness, *, now) -> str:
    # Counts and a link behind sign-in only: no patient, group or reason, since an inbox or a lock screen is not a
    # private place.
    starts = timezone.localtime(session.starts_at)
    total = len(counts.patients)
    link = settings.SITE_URL.rstrip("/") + reverse("dosing:room", args=[session.pk])
    return (
        f"Dosing session on {starts:%A} {starts.day} {starts:%B %Y} at {starts:%H:%M}: {total} patient"
        f"{'s' if total != 1 else ''}, {counts.ready_count} ready, {counts.blocked_count} blocked as of "
        f"{timezone.localtime(now):%H:%M}. Sign in to see who, why, and what is checked on the day: {link}"
    )


def _digest_rows(session: GroupSession, *, now) -> None:
    """One pending row per facilitator and channel they can be reached on, created once whoever sweeps."""
    facilitators = [person for person in session.facilitators.all() if person.is_active]
    mobiles = dict(
        StaffContact.objects.filter(user__in=facilitators).exclude(mobile="").values_list("user_id", "mobile")
    )
    rows = []
    for person in facilitators:
        if person.email:
            rows.append((person, ReadinessDigest.Channel.EMAIL, person.email))
        if person.pk in mobiles:
            rows.append((person, ReadinessDigest.Channel.SMS, mobiles[person.pk]))
    ReadinessDigest.objects.bulk_create(
        [
            ReadinessDigest(session=session, recipient=person, channel=channel, address=address, created_at=now)
            for person, channel, address in rows
        ],
        ignore_conflicts=True,
    )


def _digest_send(digest_id: int, *, counts_of, now) -> bool:
    """Sends one digest if it is still waiting: the claim is one conditional update, so of two workers only one
    sends. A failure puts it back for the next sweep, or marks it failed after the last try; it never raises."""
    claimed = ReadinessDigest.objects.filter(
        pk=digest_id, status=ReadinessDigest.Status.PENDING, attempts__lt=DIGEST_ATTEMPTS
    ).update(status=ReadinessDigest.Status.SENDING, claimed_at=now)
    if not claimed:
        return False
    digest = ReadinessDigest.objects.select_related("session").get(pk=digest_id)
    counts = counts_of(digest.session)
    attempts = digest.attempts + 1
    try:
        deliver(
            channel=digest.channel,
            address=digest.address,
            subject=DIGEST_SUBJECT,
            body=_digest_body(digest.session, counts, now=now),
            idempotency_key=f"readiness-digest:{digest.pk}",
        )
    except DELIVERY_ERRORS as error:
        logger.warning("readiness digest %s failed on try %s: %s", digest_id, attempts, error)
        last = attempts >= DIGEST_ATTEMPTS
        with transaction.atomic():
            ReadinessDigest.objects.filter(pk=digest_id).update(
                status=ReadinessDigest.Status.FAILED if last else ReadinessDigest.Status.PENDING,
                attempts=attempts,
                last_error=str(error)[:300],
            )
            audit.record(
                action=audit.Action.UPDATE,
                object_type="readiness_digest",
                object_id=digest_id,
                detail={"failed": True, "attempt": attempts, "gave_up": last, "channel": digest.channel},
            )
        return False
    with transaction.atomic():
        ReadinessDigest.objects.filter(pk=digest_id).update(
            status=ReadinessDigest.Status.SENT,
            attempts=attempts,
            sent_at=now,
            last_error="",
            ready_count=counts.ready_count,
            blocked_count=counts.blocked_count,
        )
        audit.record(
            action=audit.Action.CREATE,
            object_type="readiness_digest",
            object_id=digest_id,
            detail={
                "session": digest.session_id,
                "recipient": digest.recipient_id,
                "channel": digest.channel,
                "ready": counts.ready_count,
                "blocked": counts.blocked_count,
            },
        )
    return True


def readiness_digests_send_due(*, now: datetime.datetime | None = None) -> int:
    """The sweep (Celery beat, or `kapstone run_sweeps`): from the practice's hour on the evening before a dosing
    session until it starts, each of its facilitators receives its readiness digest once on each channel they have
    (email, and SMS where a paging number is recorded). Returns the digests sent."""
    now = now or timezone.now()
    hour = int(readiness.readiness_settings()["readiness_digest_hour"])
    upcoming = (
        GroupSession.objects.filter(
            kind=GroupSession.Kind.DOSING, starts_at__gt=now, starts_at__lte=now + datetime.timedelta(days=2)
        )
        .select_related("group")
        .prefetch_related("facilitators")
    )
    due = [session for session in upcoming if digest_due_at(session, hour=hour) <= now]
    for session in due:
        _digest_rows(session, now=now)
    ReadinessDigest.objects.filter(
        status=ReadinessDigest.Status.SENDING, claimed_at__lte=now - DIGEST_SEND_LEASE
    ).update(status=ReadinessDigest.Status.PENDING)
    waiting = ReadinessDigest.objects.filter(
        session__in=due, status=ReadinessDigest.Status.PENDING, attempts__lt=DIGEST_ATTEMPTS
    ).values_list("pk", flat=True)
    counted = {}

    def counts_of(session: GroupSession) -> selectors.SessionReadiness:
        if session.pk not in counted:
            counted[session.pk] = selectors.session_readiness_counts(session)
        return counted[session.pk]

    return sum(_digest_send(digest_id, counts_of=counts_of, now=now) for digest_id in list(waiting))
