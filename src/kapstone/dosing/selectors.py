"""Reads for the dosing room and the controlled-substance log, through the care-team filter and the trail."""

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


@dataclass
class RoomPatient:
    patient: Patient
    record: DoseRecord | None

    @property
    def vitals(self) -> list[VitalsReading]:
        return list(self.record.vitals.all()) if self.record else []

    @property
    def alert_level(self) -> str:
        levels = {reading.alert_level for reading in self.vitals}
        return "stop" if "stop" in levels else "review" if "review" in levels else ""


def session_room(*, user, session_id) -> tuple[GroupSession, list[RoomPatient]]:
    try:
        session = dosing_sessions_visible_to(user).select_related("group", "room").get(pk=int(session_id))
    except (GroupSession.DoesNotExist, ValueError, TypeError):
        raise Http404("No such dosing session.") from None
    enrolled = Enrolment.objects.filter(
        group=session.group, status__in=[Enrolment.Status.ENROLLED, Enrolment.Status.COMPLETED]
    )
    patients = list(patients_visible_to(user).filter(enrolments__in=enrolled).order_by("family_name", "given_name"))
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
    return session, [RoomPatient(patient, records.get(patient.pk)) for patient in patients]


def room_patient(*, user, session_id, patient_id) -> tuple[GroupSession, Patient]:
    session, room = session_room(user=user, session_id=session_id)
    for entry in room:
        if str(entry.patient.pk) == str(patient_id):
            return session, entry.patient
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
