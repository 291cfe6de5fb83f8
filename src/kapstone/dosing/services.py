"""Writes in the dosing room and the controlled-substance log. Each is atomic and audited."""

import datetime
import logging
import smtplib
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from kapstone.accounts.models import User
from kapstone.accounts.roles import CLINICAL_ROLES, RECORD_ROLES, Role
from kapstone.accounts.services import SecondSignature
from kapstone.alerts.models import StaffContact
from kapstone.alerts.providers import DeliveryFailed, deliver
from kapstone.audit import services as audit
from kapstone.dosing import catalogue, ledger_rules, readiness, safety, selectors
from kapstone.dosing.models import (
    LARGEST_BALANCE_MG,
    AdverseEvent,
    Disposal,
    DisposalItem,
    DoseRecord,
    Inventory,
    InventoryLine,
    LedgerEntry,
    Location,
    LossReport,
    LotBalance,
    ReadinessDigest,
    Receipt,
    Registration,
    RoomRiskAssessment,
    Route,
    SubstanceLot,
    VitalsReading,
    Waste,
)
from kapstone.dosing.signals import dose_administered
from kapstone.measures.scoring import score
from kapstone.measures.selectors import open_suicide_risk_alerts
from kapstone.patients.ages import completed_years
from kapstone.patients.models import ChildbearingPotential, Patient
from kapstone.patients.services import record_part_add
from kapstone.practice.settings_store import practice_overrides
from kapstone.practice.signals import safety_event
from kapstone.practice.templatetags.kapstone_tags import day_in_words, written_quantity
from kapstone.program.models import Enrolment, GroupSession

logger = logging.getLogger(__name__)
# Errors a channel may raise that mean "try again later" rather than a fault in Kapstone.
DELIVERY_ERRORS = (DeliveryFailed, smtplib.SMTPException, ConnectionError, TimeoutError, OSError)


class DosingError(ValueError):
    """A request the room must refuse, with a message for the person holding the tablet. One refused for several
    reasons at once (discharge) also carries them apart: `lead` says what was refused, `problems` why, each a
    sentence's worth; the message joins them, and the room shows them as a list."""

    def __init__(self, message: str, *, lead: str = "", problems: tuple[str, ...] = ()):
        super().__init__(message)
        self.lead, self.problems = lead, problems

    @classmethod
    def of_problems(cls, lead: str, problems: list[str]) -> "DosingError":
        """`lead` ("Not ready for discharge") and its `problems`, joined as one sentence for the message."""
        return cls(f"{lead}: " + "; ".join(problems) + ".", lead=lead, problems=tuple(problems))


class ChildbearingNotRecorded(DosingError):
    """A pregnancy test marked "not applicable" for a patient whose record does not document "no childbearing
    potential": the room links the refusal to the patient page's childbearing card, where a clinician records it."""


PREDOSE_BP_REVIEWED_LABEL = "I have reviewed the pre-dose BP"
# A diastolic at or above the systolic is a misread or mistyped reading; assessed, it would stop the room on a number
# that was never measured.
DIASTOLIC_NOT_BELOW_SYSTOLIC = "The diastolic pressure must be below the systolic; check the reading."
# Ratings sent with neither scale filled in: recorded, they cleared the ratings already taken and read as "saved".
NO_RATING = "Enter the sedation (MOAA/S) rating, the dissociation (CADSS) total, or both."
# The room's screen is the measures app's C-SSRS screener (its triage rules), asked about the time since the last
# visit (the Columbia "Since Last Visit" version).
CSSRS_SCREENER = "cssrs-screener"


def _announce(*, kind: str, level: str, record: DoseRecord, summary: str, object_type: str, object_id: int) -> None:
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


def _audit(record: DoseRecord, what: str, detail: dict[str, object] | None = None) -> None:
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


def _require_room_staff(actor: User) -> None:
    """The room is the practice's clinicians' and admin's (the check-in, vitals, an adverse event, a note); the acts
    that are a clinician's or a prescriber's are refused to others in their own services."""
    if actor.role not in RECORD_ROLES or not actor.is_active:
        raise DosingError("Only the practice's clinicians and its admin record in the dosing room.")


# What comes before the acts that follow a check-in (services.ratings_record, adverse_event_record, discharge): the
# room's cards say it where they would offer them (room_cards), in the same words.
CHECK_IN_FIRST = "Check the patient in first"


def _require_checked_in(record: DoseRecord, *, then: str) -> None:
    """Ratings, an adverse event and discharge follow the check-in: before it the patient is not yet in the room's
    care (no checklist, no weight), so there is nothing to rate, no dose day to attach an event to, nothing to end."""
    if record.checked_in_at is None:
        raise DosingError(f"{CHECK_IN_FIRST}; then {then}.")


def _require_session_day(record: DoseRecord, *, at: datetime.datetime) -> None:
    """The session row is locked, so the session cannot be moved (program.services.session_move) while a dose is
    being given in it."""
    session = GroupSession.objects.select_for_update().get(pk=record.session_id)
    refusal = selectors.session_day_refusal(session=session, at=at)
    if refusal:
        raise DosingError(refusal)


def _require_in_session(*, session: GroupSession, patient: Patient) -> None:
    """The room doses the patients of its group in its dosing sessions only (the room shows them, selectors.
    ROOM_ENROLMENTS): a patient who left the group, or a session of another kind, gets no record, order or dose."""
    if session.kind != GroupSession.Kind.DOSING:
        raise DosingError(f"{session} is not a dosing session; the room records doses only in a dosing session.")
    if not Enrolment.objects.filter(
        group_id=session.group_id, patient_id=patient.pk, status__in=selectors.ROOM_ENROLMENTS
    ).exists():
        raise DosingError(f"{patient.full_name} is not enrolled in this session's group, so cannot be dosed in it.")


def _starting_dose_refusal(record: DoseRecord, *, route: str, dose_mg: Decimal) -> str:
    """The label's lower starting dose for an older adult, read from the record's date of birth on the day and the
    patient's doses on the route in any course (safety.older_adult_starting_dose_refusal)."""
    given_before = (
        DoseRecord.objects.filter(patient_id=record.patient_id, route=route, administered_at__isnull=False)
        .exclude(pk=record.pk)
        .exists()
    )
    return safety.older_adult_starting_dose_refusal(
        route=route,
        dose_mg=dose_mg,
        age_years=completed_years(record.patient.date_of_birth, timezone.localdate()),
        first_on_route=not given_before,
    )


def _require_gate(record: DoseRecord) -> None:
    refusal = selectors.dose_readiness(record=record, at=timezone.now()).gate_refusal
    if refusal:
        raise DosingError(refusal)


def _require_dose_allowed(record: DoseRecord, *, at: datetime.datetime) -> selectors.DoseReadiness:
    """Refuses a dose the room would warn about (selectors.DoseReadiness). The patient's row is locked first, so two
    rooms dosing the same patient at once queue and the second counts the first's dose."""
    Patient.objects.select_for_update().filter(pk=record.patient_id).first()
    _require_in_session(session=record.session, patient=record.patient)
    readiness = selectors.dose_readiness(record=record, at=at)
    if readiness.blockers:
        raise DosingError(" ".join(readiness.blockers))
    return readiness


@transaction.atomic
def dose_record_open(*, actor: User, session: GroupSession, patient: Patient) -> DoseRecord:
    _require_room_staff(actor)
    _require_in_session(session=session, patient=patient)
    record, created = DoseRecord.objects.get_or_create(session=session, patient=patient)
    if created:
        audit.record(action=audit.Action.CREATE, patient=patient, object_type="dose_record", object_id=record.pk)
    return record


Written = TypeVar("Written")


@transaction.atomic
def dose_record_write(
    *, actor: User, session: GroupSession, patient: Patient, write: Callable[[DoseRecord], Written]
) -> Written:
    """The room's writes to a patient's card: opens the patient's dose record for the session if need be and applies
    `write` (one of the writes below) to it in the same transaction, so a write refused leaves behind neither the
    record it opened nor its audit row."""
    return write(dose_record_open(actor=actor, session=session, patient=patient))


@transaction.atomic
def check_in(
    *,
    actor: User,
    record: DoseRecord,
    fasting_confirmed: bool,
    escort_arranged: bool,
    pregnancy_test: str,
    intention: str,
    weight_kg: Decimal | None,
    pregnancy_test_on: datetime.date | None = None,
    medication_changes: str = "",
    new_medications: str = "",
    weight_confirmed: bool = False,
) -> DoseRecord:
    """`weight_confirmed`: the clinician's word that today's weight is right though it reads like the last one
    recorded in the other unit (safety.looks_like_a_pounds_mix_up)."""
    _require_room_staff(actor)
    _lock_open(record)
    if record.administered_at is not None:
        raise DosingError("The dose has been given; the checklist is closed. Add a note instead.")
    _require_session_day(record, at=timezone.now())
    _require_in_session(session=record.session, patient=record.patient)
    _require_gate(record)
    patient = Patient.objects.get(pk=record.patient_id)
    if (
        pregnancy_test == DoseRecord.PregnancyTest.NOT_APPLICABLE
        and patient.childbearing_potential != ChildbearingPotential.NO
    ):
        raise ChildbearingNotRecorded(
            'A pregnancy test is "not applicable" only where the patient record documents no childbearing '
            "potential; a clinician records that on the patient's page. Otherwise record a negative test."
        )
    if pregnancy_test == DoseRecord.PregnancyTest.NEGATIVE and pregnancy_test_on is None:
        raise DosingError("Give the day the negative pregnancy test was taken.")
    if pregnancy_test_on is not None and pregnancy_test_on > timezone.localdate():
        raise DosingError("The pregnancy test cannot have been taken in the future.")
    if medication_changes == DoseRecord.MedicationChanges.CHANGED and not new_medications.strip():
        raise DosingError("Name the medicines that changed since screening, one a line.")
    if weight_kg is not None and weight_kg != record.weight_kg and not weight_confirmed:
        _refuse_a_pounds_mix_up(record, weight_kg)
    if medication_changes != DoseRecord.MedicationChanges.CHANGED:
        new_medications = ""
    record.fasting_confirmed, record.escort_arranged = fasting_confirmed, escort_arranged
    record.pregnancy_test, record.intention, record.weight_kg = pregnancy_test, intention, weight_kg
    record.pregnancy_test_on = pregnancy_test_on if pregnancy_test == DoseRecord.PregnancyTest.NEGATIVE else None
    record.medication_changes, record.new_medications = medication_changes, new_medications.strip()
    record.checked_in_at = record.checked_in_at or timezone.now()
    record.full_clean()
    record.save()
    if pregnancy_test == DoseRecord.PregnancyTest.POSITIVE:
        _positive_pregnancy_test_record(actor=actor, patient=patient)
    # The intention is the patient's own words: the trail says whether one was given, not what it says.
    _audit(
        record,
        "checklist",
        {
            "fasting": fasting_confirmed,
            "escort": escort_arranged,
            "pregnancy_test": pregnancy_test,
            "pregnancy_test_on": record.pregnancy_test_on.isoformat() if record.pregnancy_test_on else None,
            "weight_kg": None if weight_kg is None else str(weight_kg),
            "weight_confirmed": weight_confirmed,
            "intention_given": bool(intention.strip()),
            "medication_changes": medication_changes,
            "new_medications": len(record.new_medications.splitlines()) if record.new_medications else 0,
        },
    )
    return record


def _positive_pregnancy_test_record(*, actor: User, patient: Patient) -> None:
    """Kept, not only refused: the card refuses the dose (selectors.pregnancy_problem), and the code on the patient
    record holds every later dose and any new course at the enrolment gate until a screening reviews it or a
    clinician corrects the record (safety.yaml positive_pregnancy_test). Once on the record, it is not added again."""
    code = safety.positive_pregnancy_test_diagnosis()
    if not patient.diagnoses.filter(icd10_code=code["icd10_code"]).exists():
        record_part_add(
            actor=actor, patient=patient, kind="diagnosis", fields={**code, "noted_on": timezone.localdate()}
        )


def _refuse_a_pounds_mix_up(record: DoseRecord, weight_kg: Decimal) -> None:
    last = selectors.last_recorded_weight(patient_id=record.patient_id, excluding_record_id=record.pk)
    if last is None or not safety.looks_like_a_pounds_mix_up(weight_kg, last.weight_kg):
        return
    raise DosingError(
        f"Today's weight, {weight_kg} kg ({safety.pounds_from_kg(weight_kg)} lb), reads like the last one recorded "
        f"({last.weight_kg} kg at {last.where} on {day_in_words(last.on)}) in the other unit: one of them was "
        "probably taken in pounds, which would make a dose per kg more than twice or less than half what it should be. "
        'Check the scale\'s unit and choose it; if the weight is right, tick "Unit checked".'
    )


@transaction.atomic
def dose_order(
    *, actor: User, record: DoseRecord, route: str, dose_mg: Decimal, predose_bp_reviewed: bool = False
) -> safety.CeilingCheck:
    """`predose_bp_reviewed`: the prescriber's acknowledgement of a review-level pre-dose reading, needed only when
    the latest pre-dose reading is at that level. An order on a route with no ceiling is refused."""
    _lock_open(record)
    if actor.role != Role.PRESCRIBER:
        raise DosingError("Only a prescriber can order a dose.")
    if record.administered_at is not None:
        raise DosingError("The dose has already been given; it cannot be re-ordered.")
    if not dose_mg.is_finite() or dose_mg <= 0:
        raise DosingError("The dose must be a number of mg more than 0.")
    check = safety.check_ceiling(
        route=route, dose_mg=dose_mg, weight_kg=record.weight_kg, overrides=practice_overrides("dosing")
    )
    if check.within is not True:
        raise DosingError(check.message)
    refusal = _starting_dose_refusal(record, route=route, dose_mg=dose_mg)
    if refusal:
        raise DosingError(refusal)
    readiness = _require_dose_allowed(record, at=timezone.now())
    if readiness.vitals_review and not predose_bp_reviewed:
        raise DosingError(f'{readiness.vitals_review} Tick "{PREDOSE_BP_REVIEWED_LABEL}" to order.')
    reviewed = readiness.predose_reading if readiness.vitals_review else None
    record.route, record.dose_mg = route, dose_mg
    record.ordered_by, record.ordered_at, record.ceiling_note = actor, timezone.now(), check.message
    record.predose_review_reading = reviewed
    record.save()
    detail: dict[str, object] = {"route": route, "dose_mg": str(dose_mg), "ceiling": check.message}
    if reviewed:
        detail["predose_bp_reviewed"] = {"reading_id": reviewed.pk, "alerts": reviewed.alert_messages}
    _audit(record, "order", detail)
    return check


def _lot_refusal(lot: SubstanceLot, *, route: str) -> str:
    if lot.for_disposal:
        return f"{lot} was received for disposal; it is never given."
    if lot.quarantined_at is not None:
        return (
            f"{lot} is quarantined since {day_in_words(lot.quarantined_at)} ({lot.quarantine_reason}); "
            "it is not given until it is released. Use another lot."
        )
    if lot.expires_on < timezone.localdate():
        return f"{lot} expired on {day_in_words(lot.expires_on)}; use another lot."
    return catalogue.route_refusal(form=lot.form, route=route, route_label=Route(route).label)


@transaction.atomic
def dose_administer(
    *,
    actor: User,
    record: DoseRecord,
    balance: LotBalance,
    witness: SecondSignature | None,
    administered_at: datetime.datetime | None = None,
) -> DoseRecord:
    """`witness`: the second clinician's confirmation, their own password typed at the screen
    (accounts.services.second_signature_confirm)."""
    _lock_open(record)
    if actor.role not in (Role.PRESCRIBER, Role.NURSE):
        raise DosingError("Only a prescriber or a nurse can give a dose.")
    if record.dose_mg is None:
        raise DosingError("There is no dose order yet.")
    if record.administered_at is not None:
        raise DosingError("This dose has already been given.")
    if witness is None or not isinstance(witness, SecondSignature) or witness.signer.pk == actor.pk:
        raise DosingError("A second staff member must witness the dose.")
    missing = selectors.checklist_missing(record=record)
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
    refusal = _starting_dose_refusal(record, route=record.route, dose_mg=record.dose_mg)
    if refusal:
        raise DosingError(f"{refusal} Ask for a new order.")
    refusal = _lot_refusal(balance.lot, route=record.route) or catalogue.whole_units_refusal(
        form=balance.lot.form, unit_mg=balance.lot.unit_mg, dose_mg=record.dose_mg
    )
    if refusal:
        raise DosingError(refusal)
    record.administered_at = administered_at
    record.administered_by, record.witness, record.lot = actor, witness.signer, balance.lot
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
    _audit(record, "administration", {"lot": balance.lot.lot_number, **witness.audit_detail("witness")})
    transaction.on_commit(lambda: dose_administered.send(sender=DoseRecord, record=record))
    return record


@transaction.atomic
def vitals_record(
    *,
    actor: User,
    record: DoseRecord,
    phase: str,
    systolic: int,
    diastolic: int,
    heart_rate: int,
    spo2: int,
    respiratory_rate: int | None = None,
    taken_at: datetime.datetime | None = None,
) -> VitalsReading:
    """A respiratory rate is recorded on every reading where it was counted, and required once an IM or IV dose is
    ordered. A stop-level reading is announced to the alert queue."""
    _require_room_staff(actor)
    _lock_open(record)
    if diastolic >= systolic:
        raise DosingError(DIASTOLIC_NOT_BELOW_SYSTOLIC)
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
            kind=selectors.VITALS_STOP,
            level="urgent",
            record=record,
            summary="Dosing room vitals at a stop level: " + "; ".join(assessment.messages),
            object_type=selectors.VITALS_READING_OBJECT,
            object_id=reading.pk,
        )
    return reading


@transaction.atomic
def ratings_record(
    *, actor: User, record: DoseRecord, sedation_moaas: int | None, dissociation_cadss: int | None
) -> None:
    """A MOAA/S rated before the dose is kept apart: below alert, it holds the dose until a rating of alert. Rated by a
    clinician: the MOAA/S is an observer's assessment ([chernik-1990]) and the CADSS is clinician-administered
    ([bremner-1998]), and discharge decides on them."""
    _lock_open(record)
    if actor.role not in CLINICAL_ROLES:
        raise DosingError("Only a clinician rates sedation (MOAA/S) and dissociation (CADSS).")
    _require_checked_in(record, then="rate sedation and dissociation")
    if sedation_moaas is None and dissociation_cadss is None:
        raise DosingError(NO_RATING)
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
    *,
    actor: User,
    record: DoseRecord,
    kind: str,
    severity: str,
    description: str,
    action_taken: str,
    hypersensitivity: bool = False,
) -> AdverseEvent:
    """A severe event, and an allergic reaction to the drug of any severity, are announced to the alert queue: open,
    they hold discharge, the next dose and a new course (safety.yaml review_before_dosing, discharge_waits_for). Once the
    patient is discharged the record is closed, as for every other card form: what is learnt later is a note."""
    _require_room_staff(actor)
    _lock_open(record)
    _require_checked_in(record, then="record an adverse event")
    event = AdverseEvent(
        record=record,
        occurred_at=timezone.now(),
        kind=kind,
        severity=severity,
        hypersensitivity=hypersensitivity,
        description=description,
        action_taken=action_taken,
        recorded_by=actor,
    )
    event.full_clean()
    event.save()
    _audit(record, "adverse_event", {"kind": kind, "severity": severity, "hypersensitivity": hypersensitivity})
    if hypersensitivity:
        _announce(
            kind=selectors.HYPERSENSITIVITY_EVENT,
            level="urgent",
            record=record,
            summary=(
                f"Allergic (hypersensitivity) reaction to the drug in the dosing room: {kind}. Ketamine and esketamine "
                "are contraindicated in hypersensitivity: acknowledged as confirmed, it excludes further doses and "
                "courses"
            ),
            object_type=selectors.ADVERSE_EVENT_OBJECT,
            object_id=event.pk,
        )
    if severity == AdverseEvent.Severity.SEVERE:
        _announce(
            kind=selectors.SEVERE_ADVERSE_EVENT,
            level="urgent",
            record=record,
            summary=f"Severe adverse event in the dosing room: {kind}",
            object_type=selectors.ADVERSE_EVENT_OBJECT,
            object_id=event.pk,
        )
    return event


@transaction.atomic
def risk_assessment_record(
    *,
    actor: User,
    record: DoseRecord,
    answers: dict[int, int] | None = None,
    clinician_level: str = "",
    decision: str = "",
    note: str = "",
) -> RoomRiskAssessment:
    """A same-day suicide-risk assessment: the C-SSRS screener since the last visit (`answers`, item number to 0 or
    1, triaged by the measures app's screener) or a clinician's `clinician_level`. Any clinician may screen; only a
    prescriber decides to proceed or defer, with a note, and only before the dose. A moderate or high result is
    announced to the alert queue. After the dose, until discharge, a screen is still recorded (a patient who speaks of
    suicide while observed): announced, it holds discharge until a clinician acknowledges it with a note in the queue
    (room_screen_alerts_open; [sanacora-2017] mental-status monitoring; [spravato-rems] discharge only when clinically
    stable), and the next dose and a new course while it stays open (safety.yaml review_before_dosing)."""
    _lock_open(record)
    if actor.role not in (Role.PRESCRIBER, Role.NURSE, Role.THERAPIST):
        raise DosingError("Only a clinician can assess suicide risk.")
    if record.administered_at is not None and decision:
        raise DosingError(
            "The dose has been given: there is no dose to proceed with or defer. Record the screen without a "
            "decision; a moderate or high risk is assessed and acknowledged in the alert queue before the patient "
            "leaves."
        )
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
        # The screener's instrument file defines a risk triage, so a complete score always has a level.
        assert result.risk is not None
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
            kind=selectors.ROOM_SUICIDE_SCREEN,
            level="urgent",
            record=record,
            summary=f"Same-day suicide-risk {assessment.get_method_display().lower()} in the dosing room: {level} risk",
            object_type=selectors.ROOM_RISK_ASSESSMENT_OBJECT,
            object_id=assessment.pk,
        )
    return assessment


@transaction.atomic
def medication_review(*, actor: User, record: DoseRecord, note: str) -> list[str]:
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
def note_add(*, actor: User, record: DoseRecord, text: str) -> None:
    """Open to the end: a note is what the room writes once the record is closed."""
    _require_room_staff(actor)
    _lock(record)
    stamp = timezone.localtime().strftime("%H:%M")
    record.notes = f"{record.notes}\n[{stamp} {actor.get_username()}] {text}".strip()
    record.save(update_fields=["notes"])
    _audit(record, "note")


def _recovery_problems(record: DoseRecord, limits: selectors.Limits, *, attested: bool) -> list[str]:
    """Sedation back to baseline (MOAA/S 5: no patient is dosed rated lower, DoseReadiness.sedation_refusal) and
    dissociation resolved (CADSS at or below the practice's level, or a clinician's attestation), rated no earlier
    than the post-dose vitals check (about 40 minutes after the dose, when its rise in blood pressure peaks:
    [spravato-rems], [yale-bp-series]): a rating from the first minutes after the dose, before its effects peak, says
    nothing of the return to baseline that discharge asks for ([aldrete-1995])."""
    assert record.administered_at is not None  # discharge reads recovery only once the dose is given
    if record.ratings_at is None or record.ratings_at <= record.administered_at:
        return ["rate sedation (MOAA/S) and dissociation (CADSS) after the dose"]
    minutes = limits["vitals_check_minutes_after_dose"]
    if record.ratings_at < record.administered_at + datetime.timedelta(minutes=minutes):
        return [
            f"rate sedation (MOAA/S) and dissociation (CADSS) again: the ratings of "
            f"{timezone.localtime(record.ratings_at):%H:%M} were taken before the post-dose check {minutes} minutes "
            "after the dose, so they cannot show a return to baseline"
        ]
    problems = []
    baseline = safety.discharge_moaas_baseline()
    if record.sedation_moaas is None or record.sedation_moaas < baseline:
        rated = "not rated" if record.sedation_moaas is None else record.sedation_moaas
        problems.append(f"sedation not back to baseline (MOAA/S {rated}, needs {baseline})")
    cadss_max = limits["discharge_cadss_max"]
    if not attested and (record.dissociation_cadss is None or record.dissociation_cadss > cadss_max):
        rated = "not rated" if record.dissociation_cadss is None else record.dissociation_cadss
        problems.append(
            f"dissociation not resolved (CADSS {rated}, needs {cadss_max} or less, or a "
            "clinician's attestation with a note)"
        )
    return problems


def _suicide_risk_since_dose_problems(record: DoseRecord) -> list[str]:
    """A suicide-risk answer given since the dose (a questionnaire the patient filled in while observed) that the care
    team has not yet acknowledged: an endorsed suicide item needs a clinician's follow-up whatever the total
    ([kroenke-2001] item 9, [critical-item-practice]), and the patient is about to leave the team's sight. The room's
    own screen comes before the dose, where the pre-dose gate reads it."""
    assert record.administered_at is not None  # read only once the dose is given
    return [
        f"a suicide-risk alert since the dose ({alert.reason.rstrip('.')}, raised "
        f"{timezone.localtime(alert.raised_at):%H:%M}) is not yet acknowledged; a clinician assesses the patient and "
        "acknowledges it with a note in the alert queue before they leave"
        for alert in open_suicide_risk_alerts(patient_id=record.patient_id, since=record.administered_at)
    ]


def _suicide_risk_unassessed_problems(record: DoseRecord, *, now: datetime.datetime) -> list[str]:
    """A patient leaving without a dose while a questionnaire's suicide-risk answer that the pre-dose gate weighs (an
    open alert at the blocking level, or any since their last dose: DoseReadiness.suicide_alerts) is still open in the
    queue, with no prescriber's decision in the room (proceed or defer, with a note) after it. Dosed, that decision was
    needed first; undosed, nobody may have assessed the answer at all, and the patient is about to leave the team's
    sight: an endorsed suicide item needs a clinician's follow-up whatever the total ([kroenke-2001] item 9,
    [critical-item-practice]), as the room's own positive screen does before an undosed patient leaves."""
    readiness = selectors.dose_readiness(record=record, at=now)
    decision = readiness.risk_decision
    waiting: dict[int, selectors.SuicideRiskAlert] = {}
    for found in readiness.suicide_alerts:
        if found.alert.is_open and (decision is None or decision.recorded_at < found.at):
            waiting.setdefault(found.alert.pk, found)
    return [
        f"a suicide-risk answer ({found.described}) has neither a prescriber's decision in the room after it nor an "
        "acknowledgement; a clinician assesses the patient and records one (a decision in the room, or the alert "
        "acknowledged with a note in the alert queue) before they leave, dosed or not"
        for found in waiting.values()
    ]


def _room_screen_problem(record: DoseRecord, raised_at: datetime.datetime, reason: str) -> str:
    """Why a same-day suicide screen at moderate or high risk still open holds discharge. One taken after the dose has
    no decision to clear it (there is no dose left to proceed with or defer): only the alert's acknowledgement."""
    at = f"{timezone.localtime(raised_at):%H:%M} ({reason.rstrip('.')})"
    sources = "([cssrs-screener] triage; [spravato-rems]: discharge only when clinically stable)"
    if record.administered_at is not None and raised_at >= record.administered_at:
        return (
            f"the suicide screen after the dose at {at} is not yet acknowledged; a clinician assesses the patient and "
            f"acknowledges the alert with a note in the alert queue before they leave {sources}"
        )
    return (
        f"the same-day suicide screen at {at} has neither a prescriber's decision after it nor an acknowledgement; a "
        "clinician assesses the patient and records one (a decision in the room, or the alert acknowledged with a "
        f"note in the alert queue) before they leave, dosed or not {sources}"
    )


@transaction.atomic
def discharge(
    *,
    actor: User,
    record: DoseRecord,
    vitals_ok: bool,
    alert_oriented: bool,
    escort_present: bool,
    dissociation_attested: bool = False,
    attestation_note: str = "",
    now: datetime.datetime | None = None,
) -> DoseRecord:
    """Only a clinician discharges: whether the patient is clinically stable enough to leave is a clinical judgement
    ([spravato-rems]: discharge only when clinically stable)."""
    _lock_open(record)
    if actor.role not in CLINICAL_ROLES:
        raise DosingError("Only a clinician decides that a patient may leave after a dose.")
    _require_checked_in(record, then="discharge")
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
        assert post_dose is not None  # it is None only before the dose is given
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
        problems += _suicide_risk_since_dose_problems(record)
    else:
        problems += _suicide_risk_unassessed_problems(record, now=now)
    problems += [
        f"the severe adverse event announced at {timezone.localtime(alert.raised_at):%H:%M} ({alert.reason}) is not yet "
        "acknowledged; a clinician reviews the patient and acknowledges it with a note in the alert queue before "
        "they leave ([spravato-rems]: discharge only when clinically stable)"
        for alert in selectors.severe_adverse_event_alerts_open(record=record)
    ]
    problems += [
        _room_screen_problem(record, alert.raised_at, alert.reason)
        for alert in selectors.room_screen_alerts_open(record=record)
    ]
    problems += [
        f"the alert “{alert.reason.rstrip('.')}” (raised {day_in_words(alert.raised_at)}, "
        f"{timezone.localtime(alert.raised_at):%H:%M}) is not yet acknowledged; a clinician reads what it is about, "
        "assesses the patient and acknowledges it with a note in the alert queue before they leave, dosed or not "
        f"({safety.discharge_waits_for_source()})"
        for alert in selectors.discharge_reviews_open(patient_id=record.patient_id)
    ]
    problems += [
        f"the stop-level vitals announced at {timezone.localtime(alert.raised_at):%H:%M} are not yet acknowledged; a "
        "clinician reviews the patient and acknowledges the alert with a note in the alert queue before they leave "
        "([spravato-rems]: blood pressure after the dose, discharge only when clinically stable)"
        for alert in selectors.stop_vitals_alerts_open(record=record)
    ]
    if problems:
        raise DosingError.of_problems("Not ready for discharge", problems)
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


# Staff who may sign a ledger entry: the people who keep the log (never a patient or a researcher).
SIGNING_ROLES = frozenset({Role.ADMIN, Role.PRESCRIBER, Role.NURSE})
# Entries at a location whose registration has expired: no new stock and no doses; counts, corrections, waste
# and disposal still go on (stock on hand must be accounted for and can be surrendered).
NEEDS_CURRENT_REGISTRATION = frozenset({LedgerEntry.Kind.RECEIPT, LedgerEntry.Kind.ADMINISTRATION})
QUANTITY_FIELDS = {"change_mg": "Change (mg)", "counted_mg": "Counted (mg)"}


def _person(user: User) -> str:
    return user.get_full_name() or user.get_username()


def _require_log_keeper(actor: User) -> None:
    if actor.role not in SIGNING_ROLES or not actor.is_active:
        raise DosingError("Only a prescriber, a nurse or the practice admin records controlled-substance entries.")


def _require_second_signature(
    *, actor: User, signature: SecondSignature | None, field: str = "witness", roles: frozenset[str] = SIGNING_ROLES
) -> User:
    """A second signature from another active member of staff in `roles`, confirmed with their own password
    (accounts.services.second_signature_confirm: the two-person check behind the records of [cfr-21-1304] 1304.22 and
    the witnessed destruction of [cfr-21-1317] 1317.95 is two people, not one person and a name chosen from a list),
    returned as the signer; the message names the field."""
    if signature is None or not isinstance(signature, SecondSignature):
        raise DosingError(f"{field}: a second member of staff must sign this entry, with their own password.")
    witness = signature.signer
    if witness.pk == actor.pk:
        raise DosingError(f"{field}: the second signature must be another person than {_person(actor)}.")
    if not witness.is_active or witness.role not in roles:
        allowed = " or ".join(sorted(Role(role).label.lower() for role in roles))
        raise DosingError(f"{field}: {_person(witness)} cannot sign controlled-substance entries (only a {allowed}).")
    return witness


def _location_refusal(*, location: str, kind: str, lot: SubstanceLot, on: datetime.date) -> str:
    """Why no entry of `kind` can be made at `location` today: not a registered location, a registration that has
    expired (receipts and doses), or one that does not cover the drug's schedule."""
    place = Location.objects.select_related("registration").filter(name=location).first()
    if place is None:
        return (
            f"location: {location!r} is not a registered location; an admin adds it under its DEA registration on "
            "the registrations page."
        )
    registration = place.registration
    if kind in NEEDS_CURRENT_REGISTRATION:
        if registration.expires_on < on:
            return (
                f"registration: DEA registration {registration.dea_number} for {location} expired on "
                f"{day_in_words(registration.expires_on)}; no stock is received or given there until it is renewed."
            )
        schedule = catalogue.drugs()[lot.drug].dea_schedule if lot.drug in catalogue.drugs() else ""
        if schedule not in registration.schedules:
            return (
                f"registration: DEA registration {registration.dea_number} does not cover Schedule {schedule} "
                f"(it covers {', '.join(registration.schedules) or 'none'})."
            )
    return ""


@transaction.atomic
def ledger_post(
    *,
    actor: User,
    lot: SubstanceLot,
    location: str,
    kind: str,
    change_mg: Decimal,
    witness: SecondSignature | None = None,
    dose_record: DoseRecord | None = None,
    corrects: LedgerEntry | None = None,
    reason: str = "",
    counted_mg: Decimal | None = None,
) -> LedgerEntry:
    """Appends one entry and moves the lot's balance under a row lock, so concurrent writers queue and the
    balance never goes below zero. Every entry carries a second staff signature; the location must be registered
    (and its registration current for receipts and doses). A correction of a count that takes stock away writes a
    loss off, so it opens a loss report at once."""
    _require_log_keeper(actor)
    # A dose is witnessed by whoever of the room's clinicians stands beside the patient (dose_administer).
    witnesses = SIGNING_ROLES | CLINICAL_ROLES if kind == LedgerEntry.Kind.ADMINISTRATION else SIGNING_ROLES
    signer = _require_second_signature(actor=actor, signature=witness, roles=witnesses)
    assert witness is not None  # _require_second_signature refuses none
    if kind in (LedgerEntry.Kind.WASTE, LedgerEntry.Kind.CORRECTION, LedgerEntry.Kind.DISPOSAL) and not reason.strip():
        raise DosingError("reason: give the reason for this entry.")
    if kind == LedgerEntry.Kind.CORRECTION:
        if corrects is None:
            raise DosingError("corrects: choose the entry this correction corrects.")
        if (corrects.lot_id, corrects.location) != (lot.pk, location):
            raise DosingError(f"corrects: the entry corrected must be one of {lot} at {location}.")
        if change_mg == 0:
            raise DosingError("change_mg: a correction changes the balance; 0 changes nothing.")
    elif corrects is not None:
        raise DosingError("Only a correction corrects another entry.")
    if kind == LedgerEntry.Kind.RECEIPT and change_mg <= 0:
        raise DosingError("amount: a receipt must add a positive amount.")
    removing = (LedgerEntry.Kind.WASTE, LedgerEntry.Kind.ADMINISTRATION, LedgerEntry.Kind.DISPOSAL)
    if kind in removing and change_mg >= 0:
        raise DosingError("amount: waste, administration and disposal remove a positive amount.")
    if abs(change_mg) > LARGEST_BALANCE_MG:
        raise DosingError(
            f"amount: {written_quantity(abs(change_mg))} mg is more than the log can record; check the amount."
        )
    refusal = _location_refusal(location=location, kind=kind, lot=lot, on=timezone.localdate())
    if refusal:
        raise DosingError(refusal)
    balance = _locked_balance(lot, location, create=kind == LedgerEntry.Kind.RECEIPT)
    if corrects is not None and corrects.kind == LedgerEntry.Kind.COUNT:
        # Any correction of a count, a write-off (which opens the loss report itself) and stock found alike, holds
        # the count's row from here until it commits. The sweep takes the same lock before it reads again whether
        # the count is still open or reported, so it waits for a correction under way and then finds it.
        LedgerEntry.objects.select_for_update().filter(pk=corrects.pk).first()
    discrepancy = None
    if kind == LedgerEntry.Kind.COUNT:
        if counted_mg is None or counted_mg < 0 or counted_mg > LARGEST_BALANCE_MG:
            raise DosingError("counted_mg: enter the amount counted (0 or more, and no more than the log can hold).")
        change_mg, discrepancy = Decimal("0"), counted_mg - balance.balance_mg
    new_balance = balance.balance_mg + change_mg
    if new_balance < 0:
        raise DosingError(
            f"Only {written_quantity(balance.balance_mg)} mg of {lot} is left at {location}; this entry would take "
            f"{written_quantity(-change_mg)} mg."
        )
    if new_balance > LARGEST_BALANCE_MG:
        raise DosingError(
            f"{lot} at {location} holds {written_quantity(balance.balance_mg)} mg; adding "
            f"{written_quantity(change_mg)} mg would exceed the {written_quantity(LARGEST_BALANCE_MG)} mg a balance "
            "can record. Check the amount."
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
        witness=signer,
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
            **witness.audit_detail("witness"),
        },
    )
    if discrepancy:
        summary = f"The count of {lot} at {location} is off by {written_quantity(discrepancy)} mg."
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
    if (
        kind == LedgerEntry.Kind.CORRECTION
        and change_mg < 0
        and corrects is not None
        and corrects.kind == LedgerEntry.Kind.COUNT
    ):
        _loss_report_open(discrepancy=corrects, amount_mg=-change_mg, now=entry.recorded_at)
    return entry


def _unit_mg(*, form: str, strength: Decimal, unit_volume_ml: Decimal | None) -> Decimal:
    """What one unit holds: a vial its strength (mg/mL) times its volume, a lozenge or a spray device its
    strength."""
    if catalogue.forms()[form].strength_unit == "mg/mL":
        if unit_volume_ml is None or unit_volume_ml <= 0:
            raise DosingError("unit_volume_ml: give the volume of one vial in mL (an injection's strength is per mL).")
        return (strength * unit_volume_ml).quantize(Decimal("0.01"))
    return strength


def _required_text(value: str, field: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise DosingError(f"{field}: give the {what}.")
    return value


def _refuse_a_receipt_recorded_twice(
    *, lot: SubstanceLot, supplier_dea_number: str, invoice_number: str, received_on: datetime.date
) -> None:
    """The same lot on the same invoice or packing slip from the same supplier, received the same day, is the same
    delivery recorded again (the form sent twice, or two staff unpacking one box): booked twice, the next count
    finds the amount missing. The lot's row is locked first, so two receipts of it at once are checked one after the
    other. A second delivery of the lot comes on its own packing slip, or on another day."""
    SubstanceLot.objects.select_for_update().filter(pk=lot.pk).first()
    earlier = (
        Receipt.objects.filter(
            entry__lot=lot,
            supplier_dea_number=supplier_dea_number,
            invoice_number__iexact=invoice_number,
            received_on=received_on,
        )
        .select_related("received_by")
        .first()
    )
    if earlier is not None:
        raise DosingError(
            f"invoice_number: this delivery is already recorded: lot {lot.lot_number} on {invoice_number}, received "
            f"{day_in_words(received_on)} by {_person(earlier.received_by)}. If more of the lot came in another "
            "delivery, record it under that delivery's packing-slip number."
        )


@transaction.atomic
def lot_receive(
    *,
    actor: User,
    checked_by: SecondSignature | None,
    drug: str,
    form: str,
    strength: Decimal,
    lot_number: str,
    expires_on: datetime.date,
    location: str,
    containers: int,
    units_per_container: int,
    supplier_name: str,
    supplier_dea_number: str,
    invoice_number: str,
    received_on: datetime.date | None = None,
    unit_volume_ml: Decimal | None = None,
    description: str = "",
    for_disposal: bool = False,
) -> LedgerEntry:
    """Receives stock of a product in the controlled-drug catalogue with its receipt record: the supplier and their
    DEA number, the invoice or packing slip, the date received, the containers and units, who received it and who
    checked it (another member of staff). An expired lot is accepted only to be disposed of (a return from a
    patient, say), and a lot received for disposal is never offered in the room."""
    refusal = catalogue.product_refusal(drug=drug, form=form)
    if refusal:
        raise DosingError(f"form: {refusal} The controlled-substance log accepts only catalogue products.")
    if strength is None or strength <= 0:
        raise DosingError(f"strength: give the strength ({catalogue.forms()[form].strength_unit}), more than 0.")
    checker = _require_second_signature(actor=actor, signature=checked_by, field="checked_by")
    supplier_name = _required_text(supplier_name, "supplier_name", "supplier's name")
    supplier_dea_number = _required_text(supplier_dea_number, "supplier_dea_number", "supplier's DEA number").upper()
    problem = ledger_rules.dea_number_problem(supplier_dea_number)
    if problem:
        raise DosingError(f"supplier_dea_number: the supplier's DEA number {problem}.")
    invoice_number = _required_text(invoice_number, "invoice_number", "invoice or packing-slip number")
    received_on = received_on or timezone.localdate()
    if received_on > timezone.localdate():
        raise DosingError("received_on: the date received cannot be in the future.")
    if containers is None or units_per_container is None or containers < 1 or units_per_container < 1:
        raise DosingError("containers: give at least one container of at least one unit.")
    if expires_on < received_on and not for_disposal:
        raise DosingError(
            f"expires_on: this lot expired on {day_in_words(expires_on)}: an expired lot is received only for disposal "
            '(tick "Received for disposal").'
        )
    unit_mg = _unit_mg(form=form, strength=strength, unit_volume_ml=unit_volume_ml)
    amount_mg = unit_mg * containers * units_per_container
    lot, created = SubstanceLot.objects.get_or_create(
        drug=drug,
        form=form,
        strength=strength,
        lot_number=lot_number,
        defaults={
            "expires_on": expires_on,
            "description": description,
            "for_disposal": for_disposal,
            "unit_mg": unit_mg,
        },
    )
    if not created and lot.expires_on != expires_on:
        raise DosingError(
            f"expires_on: lot {lot_number} is already in the log with expiry {day_in_words(lot.expires_on)}; check the "
            "expiry date."
        )
    if not created and lot.for_disposal != for_disposal:
        held = "for disposal" if lot.for_disposal else "for use"
        raise DosingError(
            f"for_disposal: lot {lot_number} is already in the log {held}; a lot is either for use or for disposal "
            "(a part of a lot in use that must be destroyed is recorded as witnessed waste or a disposal)."
        )
    if not created and lot.unit_mg not in (None, unit_mg):
        raise DosingError(
            f"unit_volume_ml: lot {lot_number} is in the log at {written_quantity(lot.unit_mg)} mg a unit, not "
            f"{written_quantity(unit_mg)}; check the "
            "strength and volume."
        )
    _refuse_a_receipt_recorded_twice(
        lot=lot, supplier_dea_number=supplier_dea_number, invoice_number=invoice_number, received_on=received_on
    )
    entry = ledger_post(
        actor=actor,
        lot=lot,
        location=location,
        kind=LedgerEntry.Kind.RECEIPT,
        change_mg=amount_mg,
        witness=checked_by,
        reason="received for disposal" if for_disposal else f"invoice {invoice_number} from {supplier_name}",
    )
    Receipt.objects.create(
        entry=entry,
        supplier_name=supplier_name,
        supplier_dea_number=supplier_dea_number,
        invoice_number=invoice_number,
        received_on=received_on,
        containers=containers,
        units_per_container=units_per_container,
        received_by=actor,
        checked_by=checker,
    )
    return entry


QUARANTINE = "quarantine"
RELEASE = "release"


@transaction.atomic
def lot_quarantine(*, actor: User, lot: SubstanceLot, decision: str, reason: str) -> SubstanceLot:
    """Holds a lot back from use (`decision` QUARANTINE: a recall, damaged containers, a storage excursion) or
    releases it (RELEASE), with a reason; audited. A quarantined lot is never given (the room neither offers it nor
    takes it); its stock stays in the log, counted, until it is given after release, returned or disposed of."""
    if actor.role not in SIGNING_ROLES:
        raise DosingError("Only the staff who keep the log quarantine or release a lot.")
    reason = _required_text(reason, "reason", "reason")
    lot = SubstanceLot.objects.select_for_update().get(pk=lot.pk)
    if decision == QUARANTINE:
        if lot.quarantined_at is not None:
            raise DosingError(f"{lot} is already quarantined.")
        lot.quarantined_at, lot.quarantined_by, lot.quarantine_reason = timezone.now(), actor, reason[:300]
    elif decision == RELEASE:
        if lot.quarantined_at is None:
            raise DosingError(f"{lot} is not quarantined.")
        lot.quarantined_at, lot.quarantined_by, lot.quarantine_reason = None, None, ""
    else:
        raise DosingError("decision: choose to quarantine or to release the lot.")
    lot.save(update_fields=["quarantined_at", "quarantined_by", "quarantine_reason"])
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        object_type=f"substance_lot.{decision}",
        object_id=lot.pk,
        detail={"lot": lot.lot_number, "reason": reason},
    )
    return lot


# Registrations and locations ----------------------------------------------------------------------------------


def _require_admin(actor: User) -> None:
    if actor.role != Role.ADMIN:
        raise DosingError("Only the practice admin records the practice's DEA registrations and locations.")


@transaction.atomic
def registration_save(
    *,
    actor: User,
    dea_number: str,
    registrant: str,
    schedules: list[str],
    expires_on: datetime.date,
    responsible: User | None,
    address: str = "",
    registration: Registration | None = None,
) -> Registration:
    """Records a DEA registration, or renews or corrects one (`registration`); audited with the old values."""
    _require_admin(actor)
    dea_number = (dea_number or "").strip().upper()
    problem = ledger_rules.dea_number_problem(dea_number)
    if problem:
        raise DosingError(f"dea_number: the DEA registration number {problem}.")
    known = {drug.dea_schedule for drug in catalogue.drugs().values()} | {"II", "IIN", "IIIN", "IV", "V"}
    if not schedules or set(schedules) - known:
        raise DosingError("schedules: choose the schedules the registration covers (II to V).")
    if responsible is None or responsible.role != Role.PRESCRIBER or not responsible.is_active:
        raise DosingError("responsible: choose the prescriber responsible for the registration.")
    registrant = _required_text(registrant, "registrant", "name on the registration")
    before = None
    if registration is None:
        registration = Registration()
    else:
        before = {"dea_number": registration.dea_number, "expires_on": registration.expires_on.isoformat()}
    registration.dea_number, registration.registrant, registration.address = dea_number, registrant, address
    registration.schedules, registration.expires_on, registration.responsible = (
        sorted(schedules),
        expires_on,
        responsible,
    )
    try:
        with transaction.atomic():
            registration.save()
    except IntegrityError:
        raise DosingError(f"dea_number: {dea_number} is already recorded.") from None
    audit.record(
        action=audit.Action.CREATE if before is None else audit.Action.UPDATE,
        actor=actor,
        object_type="dea_registration",
        object_id=registration.pk,
        detail={"dea_number": dea_number, "expires_on": expires_on.isoformat(), "before": before},
    )
    return registration


@transaction.atomic
def location_add(*, actor: User, name: str, registration: Registration) -> Location:
    _require_admin(actor)
    name = _required_text(name, "name", "location's name (e.g. Main safe)")
    # The unique name decides, in a savepoint: a check before the insert let two admins adding the same name at
    # once reach the constraint, and the second was shown a server error.
    try:
        with transaction.atomic():
            location = Location.objects.create(name=name, registration=registration)
    except IntegrityError:
        raise DosingError(f"name: {name!r} is already a registered location.") from None
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        object_type="stock_location",
        object_id=location.pk,
        detail={"name": name, "registration": registration.dea_number},
    )
    return location


# Inventories, waste, disposal ----------------------------------------------------------------------------------


@transaction.atomic
def inventory_take(
    *,
    actor: User,
    witness: SecondSignature | None,
    location: Location,
    kind: str,
    taken_on: datetime.date,
    timing: str,
    counts: dict[int, tuple[int, Decimal]],
) -> Inventory:
    """An inventory of every lot at `location` (21 CFR 1304.11): `counts` maps each lot's balance id to (whole units,
    mg in opened containers). Each lot becomes a count entry; one that does not match opens a discrepancy. The
    initial inventory is taken once per location; every lot held there must be counted."""
    if kind not in Inventory.Kind.values:
        raise DosingError("kind: choose the initial, biennial or an ad-hoc inventory.")
    if timing not in Inventory.Timing.values:
        raise DosingError("timing: say whether it was taken at the opening or the close of business.")
    if taken_on > timezone.localdate():
        raise DosingError("taken_on: an inventory cannot be dated in the future.")
    # Checked here, not only by ledger_post: an inventory of a location holding nothing (its initial one, with no
    # stock yet) posts no entry, so it was the one record of the log anyone could sign as its taker.
    _require_log_keeper(actor)
    signer = _require_second_signature(actor=actor, signature=witness)
    assert witness is not None  # _require_second_signature refuses none
    # The location's row is locked until the inventory is committed, so two staff recording its initial inventory
    # at once cannot both find none taken (on PostgreSQL; SQLite runs one writer at a time).
    Location.objects.select_for_update().filter(pk=location.pk).first()
    if kind == Inventory.Kind.INITIAL and location.inventories.filter(kind=Inventory.Kind.INITIAL).exists():
        raise DosingError(f"kind: {location} already has its initial inventory; take a biennial or ad-hoc one.")
    balances = {b.pk: b for b in LotBalance.objects.filter(location=location.name).select_related("lot")}
    missing = [str(balance.lot) for pk, balance in balances.items() if pk not in counts and balance.balance_mg > 0]
    if missing:
        raise DosingError("counts: count every lot held at the location (missing: " + "; ".join(missing) + ").")
    inventory = Inventory.objects.create(
        location=location,
        kind=kind,
        taken_on=taken_on,
        timing=timing,
        taken_by=actor,
        witness=signer,
        recorded_at=timezone.now(),
    )
    for balance_id, (full_units, opened_mg) in sorted(counts.items()):
        balance = balances.get(balance_id)
        if balance is None:
            raise DosingError("counts: a lot counted is not held at this location.")
        if full_units is None or full_units < 0 or opened_mg is None or opened_mg < 0:
            raise DosingError(f"counts: the count of {balance.lot} must be 0 or more units and mg.")
        if full_units and not balance.lot.unit_mg:
            raise DosingError(f"counts: {balance.lot} has no unit recorded; count it in mg (opened containers).")
        counted = (balance.lot.unit_mg or 0) * full_units + opened_mg
        entry = ledger_post(
            actor=actor,
            lot=balance.lot,
            location=location.name,
            kind=LedgerEntry.Kind.COUNT,
            change_mg=Decimal("0"),
            counted_mg=counted,
            witness=witness,
            reason=f"{inventory.get_kind_display()} {taken_on:%Y-%m-%d}, {inventory.get_timing_display().lower()}",
        )
        InventoryLine.objects.create(inventory=inventory, entry=entry, full_units=full_units, opened_mg=opened_mg)
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        object_type="controlled_inventory",
        object_id=inventory.pk,
        detail={"kind": kind, "location": location.name, "lots": len(counts), **witness.audit_detail("witness")},
    )
    return inventory


@transaction.atomic
def waste_record(
    *, actor: User, witness: SecondSignature | None, dose_record: DoseRecord, amount_mg: Decimal, method: str
) -> Waste:
    """The rest of a partial dose destroyed, against the dose it came from (from the same lot and location), signed
    by two licensed staff."""
    licensed = ledger_rules.licensed_roles()
    if actor.role not in licensed:
        raise DosingError("Waste is recorded by a prescriber or a nurse.")
    _require_second_signature(actor=actor, signature=witness, roles=licensed)
    if amount_mg is None or amount_mg <= 0:
        raise DosingError("amount_mg: the amount wasted must be more than 0 mg.")
    method = _required_text(method, "method", "method of destruction (e.g. drug-disposal container)")
    given = dose_record.ledgerentry_set.filter(kind=LedgerEntry.Kind.ADMINISTRATION).select_related("lot").first()
    if given is None:
        raise DosingError("dose_record: that dose has not been given, so there is no partial dose to waste.")
    entry = ledger_post(
        actor=actor,
        lot=given.lot,
        location=given.location,
        kind=LedgerEntry.Kind.WASTE,
        change_mg=-amount_mg,
        witness=witness,
        dose_record=dose_record,
        reason=f"rest of the dose of {timezone.localtime(given.recorded_at):%Y-%m-%d %H:%M}, {method}",
    )
    return Waste.objects.create(entry=entry, dose_record=dose_record, method=method)


@transaction.atomic
def disposal_record(
    *,
    actor: User,
    witness: SecondSignature | None,
    location: Location,
    method: str,
    disposed_on: datetime.date,
    items: list[tuple[LotBalance, Decimal]],
    distributor_name: str = "",
    distributor_dea_number: str = "",
    form41_details: str = "",
    second_witness: SecondSignature | None = None,
) -> Disposal:
    """Stock leaving through a reverse distributor (name, DEA number) or destroyed on site (DEA Form 41 details,
    two staff witnesses besides whoever records it), one disposal entry per lot."""
    signer = _require_second_signature(actor=actor, signature=witness)
    assert witness is not None  # _require_second_signature refuses none
    second_signer = None
    if disposed_on > timezone.localdate():
        raise DosingError("disposed_on: a disposal cannot be dated in the future.")
    if method == Disposal.Method.REVERSE_DISTRIBUTOR:
        distributor_name = _required_text(distributor_name, "distributor_name", "reverse distributor's name")
        distributor_dea_number = _required_text(
            distributor_dea_number, "distributor_dea_number", "reverse distributor's DEA number"
        ).upper()
        problem = ledger_rules.dea_number_problem(distributor_dea_number)
        if problem:
            raise DosingError(f"distributor_dea_number: the reverse distributor's DEA number {problem}.")
        what = f"to {distributor_name} ({distributor_dea_number})"
    elif method == Disposal.Method.ON_SITE:
        form41_details = _required_text(form41_details, "form41_details", "DEA Form 41 details")
        second_signer = _require_second_signature(actor=actor, signature=second_witness, field="second_witness")
        if second_signer.pk == signer.pk:
            raise DosingError("second_witness: on-site destruction needs two different staff witnesses.")
        what = "destroyed on site (DEA Form 41)"
    else:
        raise DosingError("method: choose a reverse distributor or on-site destruction.")
    if not items:
        raise DosingError("items: choose at least one lot and amount to dispose of.")
    disposal = Disposal.objects.create(
        location=location,
        method=method,
        disposed_on=disposed_on,
        distributor_name=distributor_name,
        distributor_dea_number=distributor_dea_number,
        form41_details=form41_details,
        recorded_by=actor,
        witness=signer,
        second_witness=second_signer,
        recorded_at=timezone.now(),
    )
    for balance, amount in items:
        if balance.location != location.name:
            raise DosingError(f"items: {balance.lot} is not held at {location}.")
        if amount is None or amount <= 0:
            raise DosingError(f"items: the amount of {balance.lot} disposed of must be more than 0 mg.")
        entry = ledger_post(
            actor=actor,
            lot=balance.lot,
            location=location.name,
            kind=LedgerEntry.Kind.DISPOSAL,
            change_mg=-amount,
            witness=witness,
            reason=f"disposal {disposed_on:%Y-%m-%d} {what}",
        )
        DisposalItem.objects.create(disposal=disposal, entry=entry)
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        object_type="controlled_disposal",
        object_id=disposal.pk,
        detail={
            "method": method,
            "location": location.name,
            "items": len(items),
            **witness.audit_detail("witness"),
            **(second_witness.audit_detail("second_witness") if second_signer and second_witness else {}),
        },
    )
    return disposal


# Theft or significant loss -------------------------------------------------------------------------------------


def _loss_report_open(*, discrepancy: LedgerEntry, amount_mg: Decimal, now: datetime.datetime) -> LossReport | None:
    """Opens the loss report for a count discrepancy (once), due within one business day of discovery, and puts
    it on the alert queue. Runs inside its caller's transaction, which holds the discrepancy's row (ledger_post for
    a write-off, the sweep for a count left open): the two at once could otherwise both find no report, and one met
    the constraint."""
    if LossReport.objects.filter(discrepancy=discrepancy).exists():
        return None
    place = Location.objects.select_related("registration__responsible").get(name=discrepancy.location)
    report = LossReport.objects.create(
        discrepancy=discrepancy,
        amount_mg=amount_mg,
        discovered_at=discrepancy.recorded_at,
        form106_due_on=ledger_rules.form106_due_on(timezone.localdate(discrepancy.recorded_at)),
        responsible=place.registration.responsible,
        opened_at=now,
    )
    audit.record(
        action=audit.Action.CREATE,
        object_type="loss_report",
        object_id=report.pk,
        detail={"discrepancy": discrepancy.pk, "amount_mg": str(amount_mg), "due": report.form106_due_on.isoformat()},
    )
    summary = (
        f"Controlled-substance loss: {written_quantity(amount_mg)} mg of {discrepancy.lot} at {discrepancy.location}. "
        "DEA Form 106 "
        f"is due by {day_in_words(report.form106_due_on)}, with the state notification."
    )
    report_id = report.pk
    transaction.on_commit(
        lambda: safety_event.send(
            sender=LossReport,
            kind="ledger_loss_report",
            level="urgent",
            patient_id=None,
            summary=summary,
            object_type="loss_report",
            object_id=report_id,
        )
    )
    return report


# Not atomic as a whole: each loss report is opened in its own transaction, so its urgent alert goes as it commits.
def loss_reports_open_due(*, now: datetime.datetime | None = None) -> int:
    """The sweep: a count discrepancy still open (no correction names it) after the day it was found becomes a
    loss report. Idempotent (one report per discrepancy)."""
    now = now or timezone.now()
    opened = 0
    for entry in selectors.open_discrepancies():
        discrepancy = entry.discrepancy_mg
        assert discrepancy is not None  # open_discrepancies reads only counts with a discrepancy
        if timezone.localdate(entry.recorded_at) >= timezone.localdate(now) or discrepancy >= 0:
            continue
        with transaction.atomic():
            # Read again under the count's lock (which a correction holds until it commits): a correction made since
            # the list was read has resolved the discrepancy, and a write-off among them has opened its own report.
            LedgerEntry.objects.select_for_update().filter(pk=entry.pk).first()
            if LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CORRECTION, corrects=entry).exists():
                continue
            opened += _loss_report_open(discrepancy=entry, amount_mg=-discrepancy, now=now) is not None
    return opened


@transaction.atomic
def loss_report_file(
    *,
    actor: User,
    report: LossReport,
    form106_submitted_on: datetime.date | None = None,
    form106_reference: str = "",
    state_notified_on: datetime.date | None = None,
    state_reference: str = "",
) -> LossReport:
    """Records the DEA Form 106 submission and the state notification (each once given, never removed)."""
    if actor.role not in (Role.PRESCRIBER, Role.ADMIN):
        raise DosingError("The responsible prescriber or the practice admin records a loss report's filing.")
    report = LossReport.objects.select_for_update().get(pk=report.pk)
    today = timezone.localdate()
    for day, field in ((form106_submitted_on, "form106_submitted_on"), (state_notified_on, "state_notified_on")):
        if day is not None and (day > today or day < timezone.localdate(report.discovered_at)):
            raise DosingError(f"{field}: the date must be between the discovery and today.")
    if form106_submitted_on is None and state_notified_on is None:
        raise DosingError("Give the date DEA Form 106 was submitted or the state was notified.")
    if form106_submitted_on is not None:
        report.form106_submitted_on = form106_submitted_on
        report.form106_reference = form106_reference.strip()
    if state_notified_on is not None:
        report.state_notified_on = state_notified_on
        report.state_reference = state_reference.strip()
    report.save()
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        object_type="loss_report",
        object_id=report.pk,
        detail={
            "form106_submitted_on": str(report.form106_submitted_on),
            "state_notified_on": str(report.state_notified_on),
        },
    )
    return report


LOSS_SUBJECT = "Kapstone: a controlled-substance loss report is waiting for you"


# Not atomic as a whole: each report's day is claimed and committed before its messages go, so a failure later in
# the sweep cannot undo a claim whose reminder was already sent (and a second worker skips it).
def loss_reports_remind(*, now: datetime.datetime | None = None) -> int:
    """The sweep: once a day, the responsible prescriber of each loss report not yet filed (Form 106 and the state
    notification) is reminded by email and SMS. The day's claim is one conditional update, so two workers send
    it once."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    sent = 0
    waiting = LossReport.objects.filter(
        Q(form106_submitted_on__isnull=True) | Q(state_notified_on__isnull=True)
    ).exclude(last_reminded_on=today)
    for report in waiting.select_related("responsible"):
        claimed = (
            LossReport.objects.filter(pk=report.pk)
            .filter(Q(last_reminded_on__isnull=True) | Q(last_reminded_on__lt=today))
            .update(last_reminded_on=today)
        )
        if not claimed:
            continue
        person = report.responsible
        link = settings.SITE_URL.rstrip("/") + reverse("dosing:loss_report", args=[report.pk])
        body = f"DEA Form 106 is due by {day_in_words(report.form106_due_on)}. Sign in to record it: {link}"
        addresses = [("email", person.email)] if person.email else []
        mobile = StaffContact.objects.filter(user=person).exclude(mobile="").values_list("mobile", flat=True).first()
        if mobile:
            addresses.append(("sms", mobile))
        for channel, address in addresses:
            try:
                deliver(
                    channel=channel,
                    address=address,
                    subject=LOSS_SUBJECT,
                    body=body,
                    idempotency_key=f"loss-report:{report.pk}:{today.isoformat()}",
                )
                sent += 1
            except DELIVERY_ERRORS as error:
                logger.warning("loss report %s reminder by %s failed: %s", report.pk, channel, error)
        audit.record(
            action=audit.Action.UPDATE,
            object_type="loss_report",
            object_id=report.pk,
            detail={"reminded": person.pk, "channels": len(addresses)},
        )
    return sent


# Readiness ahead of the day ------------------------------------------------------------------------------------

# Operational: a digest is tried on this many sweeps before it is marked failed, and a send still under way this
# long after its claim was cut off (the mail timeout is a minute) and is taken back.
DIGEST_ATTEMPTS = 3
DIGEST_SEND_LEASE = datetime.timedelta(minutes=5)


def _digest_due_at(session: GroupSession, *, hour: int) -> datetime.datetime:
    """The practice's hour on the evening before the session's day (practice time)."""
    day_before = timezone.localdate(session.starts_at) - datetime.timedelta(days=1)
    return timezone.make_aware(datetime.datetime.combine(day_before, datetime.time(hour)))


def _digest_subject(session: GroupSession, *, now: datetime.datetime) -> str:
    # A digest is due from the evening before until the session starts, so a late sweep or a session booked for
    # the same day sends it on the day itself: "tomorrow's" would then name the wrong day.
    on_the_day = timezone.localdate(session.starts_at) == timezone.localdate(now)
    return f"Kapstone: readiness for {'today' if on_the_day else 'tomorrow'}'s dosing session"


def _digest_body(session: GroupSession, counts: selectors.SessionReadiness, *, now: datetime.datetime) -> str:
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


def _digest_rows(session: GroupSession, *, now: datetime.datetime) -> None:
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


def _digest_send(
    digest_id: int, *, counts_of: Callable[[GroupSession], selectors.SessionReadiness], now: datetime.datetime
) -> bool:
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
            subject=_digest_subject(digest.session, now=now),
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


# Not atomic as a whole: each digest is claimed, sent and recorded on its own (_digest_send), so one that fails or a
# worker that dies mid-sweep leaves the others sent and recorded.
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
    due = [session for session in upcoming if _digest_due_at(session, hour=hour) <= now]
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
