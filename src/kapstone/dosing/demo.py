"""Demo dosing records and controlled-substance log.

- The demo practice sets the IM dose ceiling it uses (the cited default leaves it unset), with its source.
- Ketamine lots in stock, each a catalogue product (drug, form, strength), are received into the log through the
  services (witnessed receipts).
- Every past dosing session of the demo groups gets a complete record per patient: checklist, a sublingual
  order within the practice's ceiling, a witnessed administration, vitals before, at about 40 minutes and
  before discharge, ratings and discharge. These rows are bulk-created (the services stamp "now"), and kept
  consistent with the log: each history lot is received with exactly what was given from it, and each
  administration is an entry with its running balance, so every history lot ends at 0.
- Today's session of group A is opened through the services, two patients checked in (the same-day suicide
  screen, the pregnancy check, the medication question) with pre-dose vitals, so the dosing room shows a session
  under way.

Vital signs are synthetic, drawn inside the practice's alert thresholds (read from safety.yaml), so the
history raises no alerts.
"""

import datetime
from decimal import Decimal
from typing import TypedDict

from django.db import transaction
from django.utils import timezone

from kapstone.accounts.roles import Role
from kapstone.accounts.services import second_signature_for_demo_seed
from kapstone.dosing import safety, selectors, services
from kapstone.dosing.models import (
    DoseRecord,
    LedgerEntry,
    LotBalance,
    RoomRiskAssessment,
    Route,
    SubstanceLot,
    VitalsReading,
)
from kapstone.patients.models import ChildbearingPotential, Sex
from kapstone.patients.services import childbearing_record
from kapstone.practice.settings_store import practice_value_set
from kapstone.program.models import Enrolment, GroupSession

BATCH = 5000


class _Registration(TypedDict):
    dea_number: str
    registrant: str
    schedules: list[str]


# The demo practice's DEA registration (a synthetic number with a valid check digit) and its one location.
DEMO_REGISTRATION: _Registration = {
    "dea_number": "BO1234563",
    "registrant": "Kapstone Demo Practice",
    "schedules": ["III", "IV", "V"],
}
DEMO_LOCATION = "Main safe"
DEMO_SUPPLIER = ("Synthetic Pharma Wholesale", "RS2345672")
STOCK = [
    # form, strength (the form's unit), mL per vial, description, lot number, containers, units each, invoice
    ("lozenge", Decimal("100"), None, "100 mg sublingual lozenge", "KL-2026-031", 4, 30, "INV-88121"),
    ("injection", Decimal("50"), Decimal("10"), "10 mL vial", "KI-2026-007", 2, 5, "INV-88122"),
]
# The routes the demo practice's stock fits and the ceiling it sets where the cited default leaves none, with the
# source in the reason ([loo-2016] gave IM ketamine at 0.1-0.5 mg/kg).
DEMO_CEILINGS = [
    (
        "dosing.ceiling_im_mg_per_kg",
        0.5,
        "Our IM ceiling: the top IM dose in Loo CK et al., Acta Psychiatr Scand 2016;134(1):48-56 (0.1-0.5 mg/kg).",
    ),
]
HISTORY_FORM, HISTORY_STRENGTH, HISTORY_LOCATION = "lozenge", Decimal("100"), "Main safe"
HISTORY_LOT_MG = Decimal("20000")  # 200 lozenges of 100 mg per received lot
CHECKED_IN_TODAY = 2
# Synthetic sublingual doses, inside the common 100-400 mg lozenge range ([ketamine-dose-ranges]) and under
# the practice's default ceiling; test_services_demo checks each against the ceiling.
DEMO_DOSES_MG = (100, 150, 200, 250, 300)


def _given(record: DoseRecord) -> datetime.datetime:
    """When a history dose was given: _history builds every record given and discharged."""
    assert record.administered_at is not None
    return record.administered_at


def _dose_mg(record: DoseRecord) -> Decimal:
    """A history dose: _history builds every record with its dose."""
    assert record.dose_mg is not None
    return record.dose_mg


def _vitals(rng, record: DoseRecord, limits: dict, recorder) -> list[VitalsReading]:
    """Pre-dose, ~40 min and discharge readings, all inside the practice's review levels."""
    systolic = rng.randint(108, limits["predose_systolic_review"] - 6)
    diastolic = rng.randint(64, limits["predose_diastolic_review"] - 6)
    heart_rate = rng.randint(58, 86)
    given, discharged = _given(record), record.discharged_at
    assert discharged is not None  # as _given says
    readings = [
        ("pre", given - datetime.timedelta(minutes=15), 0, 0),
        ("peak", given + datetime.timedelta(minutes=40), rng.randint(6, 18), rng.randint(4, 12)),
        ("discharge", discharged - datetime.timedelta(minutes=10), rng.randint(0, 6), rng.randint(0, 4)),
    ]
    return [
        VitalsReading(
            record=record,
            phase=phase,
            taken_at=at,
            systolic=min(systolic + rise, limits["review_systolic"] - 10),
            diastolic=min(diastolic + rise // 2, limits["review_diastolic"] - 2),
            heart_rate=min(heart_rate + beat, limits["review_heart_rate"] - 2),
            spo2=rng.randint(max(limits["review_spo2"] + 1, 95), 99),
            respiratory_rate=rng.randint(
                limits["low_respiratory_rate_review"] + 1, limits["high_respiratory_rate_review"] - 2
            ),
            recorded_by=recorder,
        )
        for phase, at, rise, beat in readings
    ]


def _history(*, rng, nurse, progress) -> None:
    limits = safety.thresholds()
    doses = [Decimal(mg) for mg in DEMO_DOSES_MG]
    today_start = timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time(0)))
    sessions = list(
        GroupSession.objects.filter(kind=GroupSession.Kind.DOSING, starts_at__lt=today_start).order_by("starts_at")
    )
    members: dict[int, list[int]] = {}
    for group_id, patient_id in Enrolment.objects.filter(
        status__in=[Enrolment.Status.ENROLLED, Enrolment.Status.COMPLETED]
    ).values_list("group_id", "patient_id"):
        members.setdefault(group_id, []).append(patient_id)
    prescriber_of: dict[int, int] = dict(
        GroupSession.facilitators.through.objects.filter(
            groupsession__kind=GroupSession.Kind.DOSING,
            groupsession__starts_at__lt=today_start,
            user__role=Role.PRESCRIBER,
        ).values_list("groupsession_id", "user_id")
    )
    records = []
    for session in sessions:
        for patient_id in members.get(session.group_id, ()):
            given = session.starts_at + datetime.timedelta(minutes=rng.randint(25, 40))
            records.append(
                DoseRecord(
                    session=session,
                    patient_id=patient_id,
                    checked_in_at=session.starts_at + datetime.timedelta(minutes=rng.randint(0, 10)),
                    fasting_confirmed=True,
                    escort_arranged=True,
                    pregnancy_test=DoseRecord.PregnancyTest.NOT_APPLICABLE,
                    weight_kg=Decimal(rng.randint(500, 1100)) / 10,
                    route=Route.SUBLINGUAL,
                    dose_mg=rng.choice(doses),
                    ordered_by_id=prescriber_of.get(session.pk),
                    ordered_at=given - datetime.timedelta(minutes=12),
                    administered_at=given,
                    administered_by=nurse,
                    witness_id=prescriber_of.get(session.pk),
                    # Rated before discharge: back to full responsiveness, dissociation resolved.
                    sedation_moaas=safety.discharge_moaas_baseline(),
                    dissociation_cadss=rng.randint(0, limits["discharge_cadss_max"]),
                    ratings_at=given + datetime.timedelta(minutes=limits["min_observation_minutes"] + 20),
                    discharge_vitals_ok=True,
                    discharge_alert_oriented=True,
                    discharge_escort_present=True,
                    discharged_at=given + datetime.timedelta(minutes=limits["min_observation_minutes"] + 30),
                    discharged_by=nurse,
                )
            )
    if not records:
        return
    lots = _history_log(sorted(records, key=_given), nurse)
    VitalsReading.objects.bulk_create(
        (reading for record in records for reading in _vitals(rng, record, limits, nurse)), batch_size=BATCH
    )
    progress(f"dose records: {len(records)} past doses from {lots} used-up lots")


def _history_log(records: list[DoseRecord], nurse) -> int:
    """Saves past doses with their receipts and administrations: a lot is opened when the last one cannot
    cover the next dose, and received with exactly what was then given from it, so every history lot ends
    at 0."""
    form, location = HISTORY_FORM, HISTORY_LOCATION
    chunks: list[list[DoseRecord]] = []
    in_lot = HISTORY_LOT_MG
    for record in records:
        if in_lot + _dose_mg(record) > HISTORY_LOT_MG:
            chunks.append([])
            in_lot = Decimal("0")
        chunks[-1].append(record)
        in_lot += _dose_mg(record)
    lots = SubstanceLot.objects.bulk_create(
        SubstanceLot(
            form=form,
            strength=HISTORY_STRENGTH,
            description="100 mg sublingual lozenge",
            unit_mg=HISTORY_STRENGTH,
            lot_number=f"KL-H-{number:04d}",
            expires_on=_given(chunk[0]).date() + datetime.timedelta(days=2 * 365),
        )
        for number, chunk in enumerate(chunks, start=1)
    )
    for lot, chunk in zip(lots, chunks, strict=True):
        for record in chunk:
            record.lot = lot
    DoseRecord.objects.bulk_create(records, batch_size=BATCH)
    entries, balances = [], []
    for lot, chunk in zip(lots, chunks, strict=True):
        balance = sum((_dose_mg(r) for r in chunk), Decimal("0"))
        entries.append(
            LedgerEntry(
                lot=lot,
                location=location,
                kind=LedgerEntry.Kind.RECEIPT,
                change_mg=balance,
                balance_after_mg=balance,
                recorded_at=_given(chunk[0]) - datetime.timedelta(days=1),
                recorded_by=nurse,
            )
        )
        for record in chunk:
            balance -= _dose_mg(record)
            entries.append(
                LedgerEntry(
                    lot=lot,
                    location=location,
                    kind=LedgerEntry.Kind.ADMINISTRATION,
                    change_mg=-_dose_mg(record),
                    balance_after_mg=balance,
                    recorded_at=_given(record),
                    recorded_by=nurse,
                    witness_id=record.witness_id,
                    dose_record=record,
                )
            )
        balances.append(LotBalance(lot=lot, location=location, balance_mg=balance))
    LedgerEntry.objects.bulk_create(entries, batch_size=BATCH)
    LotBalance.objects.bulk_create(balances, batch_size=BATCH)
    return len(lots)


def _pregnancy_check(*, patient, clinician) -> dict:
    """The day's pregnancy check for a demo patient: a documented "no childbearing potential" for male patients (so
    "not applicable" holds), a negative test on the day for everyone else."""
    if patient.sex == Sex.MALE:
        if patient.childbearing_potential != ChildbearingPotential.NO:
            childbearing_record(actor=clinician, patient=patient, potential=ChildbearingPotential.NO)
        return {"pregnancy_test": DoseRecord.PregnancyTest.NOT_APPLICABLE}
    return {"pregnancy_test": DoseRecord.PregnancyTest.NEGATIVE, "pregnancy_test_on": timezone.localdate()}


def _today(*, rng, nurse, prescriber) -> None:
    """Today's dosing session: open every record, check two patients in (checklist, a same-day C-SSRS screen with
    every answer no, pre-dose vitals), and order the first one's dose where nothing stands in the way. A patient
    whose questionnaires raised a suicide-risk alert gets the prescriber's same-day assessment first, as the room
    requires."""
    session = (
        GroupSession.objects.filter(kind=GroupSession.Kind.DOSING, starts_at__date=timezone.localdate())
        .order_by("starts_at")
        .first()
    )
    if session is None:
        return
    patients = [e.patient for e in session.group.enrolments.filter(status=Enrolment.Status.ENROLLED)]
    checked_in = 0
    for patient in patients:
        record = services.dose_record_open(actor=nurse, session=session, patient=patient)
        # The room checks in only a patient whose enrolment gate is still open on the day.
        if (
            checked_in < CHECKED_IN_TODAY
            and not selectors.dose_readiness(record=record, at=timezone.now()).gate_refusal
        ):
            checked_in += 1
            services.check_in(
                actor=nurse,
                record=record,
                fasting_confirmed=True,
                escort_arranged=True,
                intention=rng.choice(["to meet my grief with kindness", "to rest", "to listen to my body"]),
                weight_kg=Decimal(rng.randint(550, 950)) / 10,
                medication_changes=DoseRecord.MedicationChanges.NONE,
                **_pregnancy_check(patient=patient, clinician=nurse),
            )
            services.risk_assessment_record(actor=nurse, record=record, answers={1: 0, 2: 0, 6: 0})
            services.vitals_record(
                actor=nurse,
                record=record,
                phase=VitalsReading.Phase.PRE_DOSE,
                systolic=rng.randint(112, 128),
                diastolic=rng.randint(68, 82),
                heart_rate=rng.randint(62, 84),
                spo2=rng.randint(96, 99),
                respiratory_rate=rng.randint(13, 18),
            )
        if checked_in == 1 and record.checked_in_at and not record.dose_mg:
            if selectors.dose_readiness(record=record, at=timezone.now()).risk_refusal:
                services.risk_assessment_record(
                    actor=prescriber,
                    record=record,
                    answers={1: 0, 2: 0, 6: 0},
                    decision=RoomRiskAssessment.Decision.PROCEED,
                    note="Seen before the session: no current ideation since the last visit; safety plan reviewed.",
                )
            if not selectors.dose_readiness(record=record, at=timezone.now()).blockers:
                services.dose_order(actor=prescriber, record=record, route=Route.SUBLINGUAL, dose_mg=Decimal("200"))


@transaction.atomic
def seed(*, practice, rng, progress) -> None:
    nurse, prescriber = practice.staff["nurse.haddad"], practice.staff["dr.okafor"]
    for key, value, reason in DEMO_CEILINGS:
        practice_value_set(actor=prescriber, key=key, value=value, reason=reason)
    registration = services.registration_save(
        actor=practice.staff["admin.price"],
        expires_on=timezone.localdate() + datetime.timedelta(days=400),
        responsible=prescriber,
        address="1 Synthetic Way",
        **DEMO_REGISTRATION,
    )
    location = services.location_add(actor=practice.staff["admin.price"], name=DEMO_LOCATION, registration=registration)
    # The initial inventory is taken when the location is first stocked; the history's lots were all used up.
    services.inventory_take(
        actor=nurse,
        witness=second_signature_for_demo_seed(signer=prescriber),
        location=location,
        kind="initial",
        taken_on=timezone.localdate(),
        timing="opening",
        counts={},
    )
    supplier, supplier_dea = DEMO_SUPPLIER
    for form, strength, volume, description, lot_number, containers, units, invoice in STOCK:
        services.lot_receive(
            actor=nurse,
            checked_by=second_signature_for_demo_seed(signer=prescriber),
            drug="ketamine",
            form=form,
            strength=strength,
            unit_volume_ml=volume,
            description=description,
            lot_number=lot_number,
            expires_on=timezone.localdate() + datetime.timedelta(days=540),
            location=DEMO_LOCATION,
            containers=containers,
            units_per_container=units,
            supplier_name=supplier,
            supplier_dea_number=supplier_dea,
            invoice_number=invoice,
        )
    _history(rng=rng, nurse=nurse, progress=progress)
    _today(rng=rng, nurse=nurse, prescriber=prescriber)
