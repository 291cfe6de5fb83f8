"""Reads for the dosing room and the controlled-substance log, through the care-team filter and the trail."""

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from kapstone.accounts.roles import Role
from kapstone.audit import services as audit
from kapstone.dosing import safety
from kapstone.dosing.models import DoseRecord, LedgerEntry, LotBalance, VitalsReading
from kapstone.patients.models import Patient
from kapstone.patients.selectors import patients_visible_to
from kapstone.practice.settings_store import practice_overrides
from kapstone.program.models import Enrolment, GroupSession
from kapstone.screening.gate import gate_statuses

# Who keeps the controlled-substance log: the people who receive, give, waste and count the drug.
LEDGER_ROLES = frozenset({Role.ADMIN, Role.PRESCRIBER, Role.NURSE})


def dosing_sessions_visible_to(user) -> QuerySet[GroupSession]:
    sessions = GroupSession.objects.filter(kind=GroupSession.Kind.DOSING)
    if user.role == Role.ADMIN:
        return sessions
    if user.is_clinician:
        return sessions.filter(
            Q(facilitators=user) | Q(group__enrolments__patient__care_team_memberships__staff=user)
        ).distinct()
    return sessions.none()


def upcoming_dosing_sessions(*, user, days_back: int = 1, limit: int = 30) -> list[GroupSession]:
    since = timezone.now() - timezone.timedelta(days=days_back)
    return list(
        dosing_sessions_visible_to(user)
        .filter(starts_at__gte=since)
        .select_related("group", "room")
        .prefetch_related("facilitators")
        .order_by("starts_at")[:limit]
    )


def _day(day: datetime.date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def session_day_refusal(*, session: GroupSession, at: datetime.datetime) -> str:
    """The room checks patients in and gives doses on the session's own day, in the practice's time zone (a dose
    recorded afterwards keeps the time it was given, which falls on that day)."""
    day, session_day = timezone.localdate(at), timezone.localdate(session.starts_at)
    if day == session_day:
        return ""
    return (
        f"This session is on {_day(session_day)}, not {_day(day)}: the room checks patients in and gives doses "
        "only on the session's own day."
    )


WEEK = datetime.timedelta(days=7)


@dataclass(frozen=True)
class DoseReadiness:
    """What stands between a patient and a dose at a given moment: the enrolment gate, re-checked on the day because
    consent can be withdrawn and a new screening can find the patient not eligible after they joined the group; the
    doses already given in the 7 days before, in any group; and the latest pre-dose vitals reading, which stops the
    dose at a stop level and needs the prescriber's acknowledgement at review level. The room shows it; the services
    refuse with it."""

    patient: Patient
    gate_blockers: tuple[str, ...]
    doses_in_week_before: int
    weekly_limit: int
    predose_reading: VitalsReading | None = None
    review_acknowledged: bool = False

    @property
    def at_weekly_limit(self) -> bool:
        return self.doses_in_week_before >= self.weekly_limit

    @property
    def gate_refusal(self) -> str:
        if not self.gate_blockers:
            return ""
        return f"{self.patient.full_name} cannot be dosed: " + "; ".join(self.gate_blockers) + "."

    @property
    def spacing_refusal(self) -> str:
        if not self.at_weekly_limit:
            return ""
        count = self.doses_in_week_before
        return (
            f"{self.patient.full_name} already had {count} dose{'s' if count != 1 else ''} in the 7 days before; "
            f"the practice allows at most {self.weekly_limit} a week."
        )

    def _reading_at(self, level: str) -> str:
        reading = self.predose_reading
        if reading is None or reading.alert_level != level:
            return ""
        return f"{timezone.localtime(reading.taken_at):%H:%M} ({'; '.join(reading.alert_messages)})"

    @property
    def vitals_refusal(self) -> str:
        """The latest pre-dose reading is at a stop level; a later pre-dose reading within limits clears it."""
        reading = self._reading_at("stop")
        if not reading:
            return ""
        return f"Pre-dose vitals at {reading} are at a stop level: do not dose; re-check vitals."

    @property
    def vitals_review(self) -> str:
        """The latest pre-dose reading is at review level (Spravato REMS: consider delaying): the prescriber orders
        only after acknowledging it."""
        reading = self._reading_at("review")
        if not reading:
            return ""
        return f"Pre-dose vitals at {reading}: the prescriber must review them before ordering."

    @property
    def review_refusal(self) -> str:
        """A review-level reading the order does not acknowledge, such as one taken after the order was written."""
        if not self.vitals_review or self.review_acknowledged:
            return ""
        return f"{self.vitals_review} Order the dose again with the pre-dose BP marked as reviewed."

    @property
    def blockers(self) -> list[str]:
        return [refusal for refusal in (self.gate_refusal, self.spacing_refusal, self.vitals_refusal) if refusal]


def _gate_blockers(patients: list[Patient]) -> dict[int, tuple[str, ...]]:
    """The screening app's enrolment gate, the one program.services.enrol applies, read for all patients at once."""
    return {patient_id: status.blockers for patient_id, status in gate_statuses(patients).items()}


def _latest_predose(record: DoseRecord | None) -> VitalsReading | None:
    """Reads the record's vitals through `record.vitals.all()`, so a prefetch serves it."""
    if record is None:
        return None
    return max(
        (reading for reading in record.vitals.all() if reading.phase == VitalsReading.Phase.PRE_DOSE),
        key=lambda reading: (reading.taken_at, reading.pk),
        default=None,
    )


def _readiness(
    cases: list[tuple[Patient, datetime.datetime, DoseRecord | None]], *, limits: dict
) -> list[DoseReadiness]:
    """Readiness of each (patient, at, their record in this session) case, with one read of the doses given to all
    of them: a dose counts when given in the 7 days before `at`, up to `at`, other than the record's own."""
    if not cases:
        return []
    patients = [patient for patient, _, _ in cases]
    given = defaultdict(list)
    for record_id, patient_id, administered_at in DoseRecord.objects.filter(
        patient_id__in=[patient.pk for patient in patients],
        administered_at__gt=min(at for _, at, _ in cases) - WEEK,
        administered_at__lte=max(at for _, at, _ in cases),
    ).values_list("pk", "patient_id", "administered_at"):
        given[patient_id].append((record_id, administered_at))
    gate = _gate_blockers(patients)
    readiness = []
    for patient, at, record in cases:
        predose = _latest_predose(record)
        readiness.append(
            DoseReadiness(
                patient=patient,
                gate_blockers=gate[patient.pk],
                doses_in_week_before=sum(
                    1
                    for record_id, administered_at in given[patient.pk]
                    if at - WEEK < administered_at <= at and (record is None or record_id != record.pk)
                ),
                weekly_limit=limits["max_doses_per_7_days"],
                predose_reading=predose,
                review_acknowledged=predose is not None and record.predose_review_reading_id == predose.pk,
            )
        )
    return readiness


def dose_readiness(*, record: DoseRecord, at: datetime.datetime) -> DoseReadiness:
    return _readiness([(record.patient, at, record)], limits=room_thresholds())[0]


@dataclass(frozen=True)
class PostDoseVitals:
    """The vitals reading due the practice's vitals_check_minutes_after_dose (about 40) after the dose: the first
    reading recorded as that phase at or after the mark. Discharge waits for it."""

    due_at: datetime.datetime
    minutes_after_dose: int
    reading: VitalsReading | None
    overdue: bool

    @property
    def done(self) -> bool:
        return self.reading is not None


def post_dose_vitals(record: DoseRecord | None, *, limits: dict, now: datetime.datetime) -> PostDoseVitals | None:
    """None until the dose is given. Reads the record's vitals through `record.vitals.all()`, so a prefetch serves it."""
    if record is None or record.administered_at is None:
        return None
    minutes = limits["vitals_check_minutes_after_dose"]
    due_at = record.administered_at + datetime.timedelta(minutes=minutes)
    reading = min(
        (v for v in record.vitals.all() if v.phase == VitalsReading.Phase.PEAK and v.taken_at >= due_at),
        key=lambda v: (v.taken_at, v.pk),
        default=None,
    )
    return PostDoseVitals(due_at, minutes, reading, overdue=reading is None and now >= due_at)


@dataclass
class RoomPatient:
    patient: Patient
    record: DoseRecord | None
    readiness: DoseReadiness
    post_dose: PostDoseVitals | None

    @property
    def vitals(self) -> list[VitalsReading]:
        return list(self.record.vitals.all()) if self.record else []

    @property
    def alert_level(self) -> str:
        levels = {reading.alert_level for reading in self.vitals}
        return "stop" if "stop" in levels else "review" if "review" in levels else ""

    @property
    def awaiting_dose(self) -> bool:
        """Neither dosed nor sent home: what would stop a dose still matters."""
        return self.record is None or (self.record.administered_at is None and self.record.discharged_at is None)


def _session_get(*, user, session_id) -> GroupSession:
    try:
        return dosing_sessions_visible_to(user).select_related("group", "room").get(pk=int(session_id))
    except (GroupSession.DoesNotExist, ValueError, TypeError):
        raise Http404("No such dosing session.") from None


def _session_patients(*, user, session: GroupSession) -> list[Patient]:
    enrolled = Enrolment.objects.filter(
        group=session.group, status__in=[Enrolment.Status.ENROLLED, Enrolment.Status.COMPLETED]
    )
    return list(patients_visible_to(user).filter(enrolments__in=enrolled).order_by("family_name", "given_name"))


def session_room(*, user, session_id) -> tuple[GroupSession, list[RoomPatient]]:
    """The session and each of the user's patients in it, with what would stop their dose and when their post-dose
    vitals are due, read for all patients at once."""
    session = _session_get(user=user, session_id=session_id)
    patients = _session_patients(user=user, session=session)
    records = {
        record.patient_id: record
        for record in DoseRecord.objects.filter(session=session, patient__in=patients)
        .select_related("lot", "ordered_by", "administered_by", "witness", "discharged_by")
        .prefetch_related(
            Prefetch("vitals", queryset=VitalsReading.objects.order_by("taken_at", "id")), "adverse_events"
        )
    }
    audit.record(
        action=audit.Action.READ,
        object_type="dosing_room",
        object_id=session.pk,
        detail={"patient_ids": [p.pk for p in patients]},
    )
    now, limits = timezone.now(), room_thresholds()
    # A dose already given is counted against the week before it; one still to give, against the week before now.
    cases = []
    for patient in patients:
        record = records.get(patient.pk)
        cases.append((patient, record.administered_at if record and record.administered_at else now, record))
    readiness = _readiness(cases, limits=limits)
    return session, [
        RoomPatient(patient, record, ready, post_dose_vitals(record, limits=limits, now=now))
        for (patient, _, record), ready in zip(cases, readiness, strict=True)
    ]


def room_patient(*, user, session_id, patient_id) -> tuple[GroupSession, Patient]:
    session = _session_get(user=user, session_id=session_id)
    for patient in _session_patients(user=user, session=session):
        if str(patient.pk) == str(patient_id):
            return session, patient
    raise Http404("That patient is not in this session.")


def room_thresholds() -> dict:
    return safety.thresholds(practice_overrides("dosing"))


def ledger(*, limit: int = 200) -> tuple[list[LotBalance], list[LedgerEntry]]:
    balances = list(LotBalance.objects.select_related("lot").order_by("lot__expires_on", "location"))
    entries = list(
        LedgerEntry.objects.select_related(
            "lot", "recorded_by", "witness", "dose_record__patient", "corrects"
        ).order_by("-recorded_at", "-id")[:limit]
    )
    # Administrations name the patient by record number, so showing the log is a read of those patients.
    audit.record(
        action=audit.Action.READ,
        object_type="controlled_substance_log",
        detail={"patient_ids": sorted({e.dose_record.patient_id for e in entries if e.dose_record})},
    )
    return balances, entries


def open_discrepancies() -> list[LedgerEntry]:
    """The latest count of each lot and location, where it did not match the balance."""
    latest = {}
    for entry in LedgerEntry.objects.filter(kind=LedgerEntry.Kind.COUNT).select_related("lot").order_by("recorded_at"):
        latest[(entry.lot_id, entry.location)] = entry
    return [entry for entry in latest.values() if entry.discrepancy_mg]
