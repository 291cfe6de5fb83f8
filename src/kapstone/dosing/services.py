"""Writes in the dosing room and the controlled-substance log. Each is atomic and audited."""

import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from kapstone.accounts.roles import Role
from kapstone.audit import services as audit
from kapstone.dosing import safety, selectors
from kapstone.dosing.models import (
    LARGEST_BALANCE_MG,
    AdverseEvent,
    DoseRecord,
    LedgerEntry,
    LotBalance,
    SubstanceLot,
    VitalsReading,
)
from kapstone.dosing.signals import dose_administered
from kapstone.patients.models import Patient
from kapstone.practice.settings_store import practice_overrides
from kapstone.program.models import GroupSession


class DosingError(ValueError):
    """A request the room must refuse, with a message for the person holding the tablet."""


PREDOSE_BP_REVIEWED_LABEL = "I have reviewed the pre-dose BP"


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
) -> DoseRecord:
    _lock_open(record)
    if record.administered_at is not None:
        raise DosingError("The dose has been given; the checklist is closed. Add a note instead.")
    _require_session_day(record, at=timezone.now())
    _require_gate(record)
    if pregnancy_test == DoseRecord.PregnancyTest.POSITIVE:
        raise DosingError("A positive pregnancy test is an absolute contraindication: do not dose (Spravato label).")
    record.fasting_confirmed, record.escort_arranged = fasting_confirmed, escort_arranged
    record.pregnancy_test, record.intention, record.weight_kg = pregnancy_test, intention, weight_kg
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
            "weight_kg": None if weight_kg is None else str(weight_kg),
            "intention_given": bool(intention.strip()),
        },
    )
    return record


def checklist_complete(record: DoseRecord) -> list[str]:
    """What is still missing before a dose may be given."""
    missing = []
    if not record.fasting_confirmed:
        missing.append("fasting not confirmed")
    if not record.escort_arranged:
        missing.append("no escort or ride home arranged")
    if not record.pregnancy_test:
        missing.append("pregnancy test not recorded (mark not applicable where it is)")
    if not record.vitals.filter(phase=VitalsReading.Phase.PRE_DOSE).exists():
        missing.append("no pre-dose vitals")
    return missing


@transaction.atomic
def dose_order(
    *, actor, record: DoseRecord, route: str, dose_mg: Decimal, predose_bp_reviewed: bool = False
) -> safety.CeilingCheck:
    """`predose_bp_reviewed`: the prescriber's acknowledgement of a review-level pre-dose reading, needed only when
    the latest pre-dose reading is at that level."""
    _lock_open(record)
    if actor.role != Role.PRESCRIBER:
        raise DosingError("Only a prescriber can order a dose.")
    if record.administered_at is not None:
        raise DosingError("The dose has already been given; it cannot be re-ordered.")
    if dose_mg <= 0:
        raise DosingError("The dose must be more than 0 mg.")
    readiness = _require_dose_allowed(record, at=timezone.now())
    if readiness.vitals_review and not predose_bp_reviewed:
        raise DosingError(f'{readiness.vitals_review} Tick "{PREDOSE_BP_REVIEWED_LABEL}" to order.')
    check = safety.check_ceiling(
        route=route, dose_mg=dose_mg, weight_kg=record.weight_kg, overrides=practice_overrides("dosing")
    )
    if check.within is False:
        raise DosingError(check.message)
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
    # The weight may have been corrected at check-in after the order was written.
    check = safety.check_ceiling(
        route=record.route, dose_mg=record.dose_mg, weight_kg=record.weight_kg, overrides=practice_overrides("dosing")
    )
    if check.within is False:
        raise DosingError(f"The order no longer passes the ceiling check: {check.message} Ask for a new order.")
    if balance.lot.expires_on < timezone.localdate():
        raise DosingError(f"{balance.lot} expired on {balance.lot.expires_on:%Y-%m-%d}; use another lot.")
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
    *, actor, record: DoseRecord, phase: str, systolic: int, diastolic: int, heart_rate: int, spo2: int, taken_at=None
) -> VitalsReading:
    _lock_open(record)
    assessment = safety.assess_vitals(
        systolic=systolic,
        diastolic=diastolic,
        heart_rate=heart_rate,
        spo2=spo2,
        pre_dose=phase == VitalsReading.Phase.PRE_DOSE,
        overrides=practice_overrides("dosing"),
    )
    reading = VitalsReading(
        record=record,
        phase=phase,
        taken_at=taken_at or timezone.now(),
        systolic=systolic,
        diastolic=diastolic,
        heart_rate=heart_rate,
        spo2=spo2,
        recorded_by=actor,
        alert_level=assessment.level,
        alert_messages=assessment.messages,
    )
    reading.full_clean()
    reading.save()
    _audit(record, "vitals", {"phase": phase, "alert": assessment.level})
    return reading


@transaction.atomic
def ratings_record(*, actor, record: DoseRecord, sedation_moaas: int | None, dissociation_cadss: int | None):
    _lock_open(record)
    scales = safety.safety_data()["scales"]
    for value, scale, label in ((sedation_moaas, "moaas", "MOAA/S"), (dissociation_cadss, "cadss_total", "CADSS")):
        if value is not None and not scales[scale]["min"] <= value <= scales[scale]["max"]:
            raise DosingError(f"{label} runs from {scales[scale]['min']} to {scales[scale]['max']}.")
    record.sedation_moaas, record.dissociation_cadss = sedation_moaas, dissociation_cadss
    record.save(update_fields=["sedation_moaas", "dissociation_cadss"])
    _audit(record, "ratings", {"moaas": sedation_moaas, "cadss": dissociation_cadss})


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
    return event


@transaction.atomic
def note_add(*, actor, record: DoseRecord, text: str) -> None:
    """Open to the end: a note is what the room writes once the record is closed."""
    _lock(record)
    stamp = timezone.localtime().strftime("%H:%M")
    record.notes = f"{record.notes}\n[{stamp} {actor.get_username()}] {text}".strip()
    record.save(update_fields=["notes"])
    _audit(record, "note")


@transaction.atomic
def discharge(
    *, actor, record: DoseRecord, vitals_ok: bool, alert_oriented: bool, escort_present: bool, now=None
) -> DoseRecord:
    _lock_open(record)
    now = now or timezone.now()
    problems = []
    if not (vitals_ok and alert_oriented and escort_present):
        problems.append("every discharge check must be confirmed")
    last = record.vitals.order_by("-taken_at", "-id").first()
    if last is None or last.phase != VitalsReading.Phase.DISCHARGE:
        problems.append("take discharge vitals first")
    elif last.alert_level:
        problems.append("the last vitals are outside the practice's limits")
    if record.administered_at is not None:
        limits = safety.thresholds(practice_overrides("dosing"))
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
    if problems:
        raise DosingError("Not ready for discharge: " + "; ".join(problems) + ".")
    record.discharge_vitals_ok, record.discharge_alert_oriented = vitals_ok, alert_oriented
    record.discharge_escort_present, record.discharged_at, record.discharged_by = escort_present, now, actor
    record.save()
    _audit(record, "discharge")
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
    return entry


@transaction.atomic
def lot_receive(
    *, actor, drug: str, form: str, lot_number: str, expires_on, location: str, amount_mg: Decimal, witness=None
) -> LedgerEntry:
    lot, _ = SubstanceLot.objects.get_or_create(
        drug=drug, form=form, lot_number=lot_number, defaults={"expires_on": expires_on}
    )
    return ledger_post(
        actor=actor, lot=lot, location=location, kind=LedgerEntry.Kind.RECEIPT, change_mg=amount_mg, witness=witness
    )
