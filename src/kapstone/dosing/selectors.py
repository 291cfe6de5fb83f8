"""Reads for the dosing room and the controlled-substance log, through the care-team filter and the trail."""

import datetime
import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Exists, F, Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from kapstone.accounts.models import User
from kapstone.accounts.roles import Role
from kapstone.audit import services as audit
from kapstone.built_once import built_once_per_user
from kapstone.compiled_once import KEYS, CompiledRead, as_prefetched, compiled_once
from kapstone.dosing import ledger_rules, medications, safety
from kapstone.dosing.models import (
    AdverseEvent,
    DoseRecord,
    Inventory,
    LedgerEntry,
    Location,
    LossReport,
    LotBalance,
    Registration,
    RoomRiskAssessment,
    Route,
    SubstanceLot,
    VitalsReading,
)
from kapstone.measures.models import SUICIDE_RISK, AlertOccurrence, CriticalAlert
from kapstone.patients.models import ChildbearingPotential, Medication, Patient, record_number_of
from kapstone.patients.selectors import patients_visible_to
from kapstone.practice.authority import setting_named_for_staff
from kapstone.practice.settings_store import practice_overrides_of
from kapstone.practice.templatetags.kapstone_tags import day_in_words, written_quantity
from kapstone.program.models import Enrolment, GroupSession
from kapstone.program.selectors import enrolments_visible_to
from kapstone.screening import engine
from kapstone.screening.gate import gate_settings, gate_statuses, patient_answers_after
from kapstone.screening.models import IntakeVersion, ScreeningResult
from kapstone.screening.services import SETTINGS_PREFIX as SCREENING_SETTINGS
from kapstone.untrusted import row_id

# Who keeps the controlled-substance log: the people who receive, give, waste and count the drug.
LEDGER_ROLES = frozenset({Role.ADMIN, Role.PRESCRIBER, Role.NURSE})
# Any: the room's thresholds are the practice settings of dosing/data/safety.yaml (numbers, or None for a route
# with no ceiling), read as parsed YAML (safety.thresholds).
Limits = dict[str, Any]


@dataclass(frozen=True)
class RoomSettings:
    """The practice settings the room judges readiness by: its thresholds (room_thresholds) and the enrolment
    gate's screening settings (screening.gate.gate_settings)."""

    limits: Limits
    gate: engine.Data


def dosing_session_visible_to(user: User) -> Q:
    """The dosing sessions a user may see, as a condition on each session: admins all; a clinician those they
    facilitate and those whose group holds a patient of their care team. For a clinician it is one EXISTS over
    both reasons, each read on indexes, for the one session or the few days' sessions asked for: an IN over the
    user's sessions had PostgreSQL hash every session a prescriber ever facilitated to answer for one (3 ms of the
    room's database time at 10,000 patients, growing with the practice), and two EXISTS joined by OR it planned
    each twice, row by row and hashed, which took longer than reading the room's session (issue 19)."""
    dosing = Q(kind=GroupSession.Kind.DOSING)
    if user.role == Role.ADMIN:
        return dosing
    if user.is_clinician:
        facilitators = GroupSession.facilitators.through
        facilitates = facilitators.objects.filter(groupsession=OuterRef("pk"), user=user).values("groupsession")
        holds_their_patient = enrolments_visible_to(user, field="group").values("group")
        return dosing & Q(Exists(facilitates.union(holds_their_patient, all=True)))
    return Q(pk__in=[])


@compiled_once(since=datetime.datetime)
def _dosing_sessions_since(user: User, limit: int, *, since: datetime.datetime) -> QuerySet[GroupSession]:
    return (
        # The days ahead are few sessions, each tested on its own (EXISTS), not against every session the user
        # ever facilitated.
        GroupSession.objects.filter(dosing_session_visible_to(user), starts_at__gte=since)
        .select_related("group", "room")
        .prefetch_related("facilitators")
        .order_by("starts_at")[:limit]
    )


def upcoming_dosing_sessions(*, user: User, days_back: int = 1, limit: int = 30) -> list[GroupSession]:
    return _dosing_sessions_since(user, limit, since=timezone.now() - datetime.timedelta(days=days_back))


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


def week_starts_on(at: datetime.datetime) -> datetime.date:
    """The first of the 7 calendar days, in the practice's time zone, that end on the day of `at`: the week the
    practice's ceiling on doses counts ([journey-clinical] at most twice a week), as the course planner books it
    (program.scheduling: no third dosing day within 7 calendar days of the first). Counted in hours instead, a
    course booked Monday, Thursday and Monday was refused on the second Monday whenever that dose came earlier in
    the day than the first; a dose soon after another across midnight is the minimum observation's to stop."""
    return timezone.localdate(at) - WEEK + datetime.timedelta(days=1)


@dataclass(frozen=True)
class RecordedWeight:
    weight_kg: Decimal
    on: datetime.date
    where: str


def last_recorded_weight(*, patient_id: int, excluding_record_id: int) -> RecordedWeight | None:
    """The patient's weight as last recorded before this check-in: at an earlier session's check-in, else at the
    intake of their latest complete screening."""
    earlier = (
        DoseRecord.objects.filter(patient_id=patient_id, weight_kg__isnull=False, checked_in_at__isnull=False)
        .exclude(pk=excluding_record_id)
        .order_by("-checked_in_at", "-pk")
        .values_list("weight_kg", "checked_in_at")
        .first()
    )
    if earlier is not None:
        weight_kg, checked_in_at = earlier
        assert weight_kg is not None and checked_in_at is not None  # the filter reads only records with both
        return RecordedWeight(weight_kg, timezone.localdate(checked_in_at), "an earlier check-in")
    intake = IntakeVersion.objects.filter(patient_id=patient_id, is_complete=True).order_by("-number").first()
    weight = (intake.data.get("vitals") or {}).get("weight_kg") if intake else None
    if intake is None or not weight:
        return None
    return RecordedWeight(Decimal(str(weight)), timezone.localdate(intake.created_at), "the screening intake")


@dataclass(frozen=True)
class SuicideRiskAlert:
    """One time a questionnaire raised or joined a suicide-risk alert in the queue, at the level the room reads it
    as (safety.suicide_risk_level)."""

    alert: CriticalAlert
    level: str
    at: datetime.datetime
    reason: str

    @property
    def described(self) -> str:
        state = "open" if self.alert.is_open else "acknowledged"
        # "risk" said: the bare level ("moderate") read beside the queue's priority of the same alert ("urgent").
        return (
            f"{self.reason} ({self.level} risk, {day_in_words(self.at)} {timezone.localtime(self.at):%H:%M}, {state})"
        )


@dataclass(frozen=True)
class DoseReadiness:
    """What stands between a patient and a dose at a given moment: the enrolment gate, re-checked on the day because
    consent can be withdrawn and a new screening can find the patient not eligible after they joined the group; the
    doses already given in the 7 days before, in any group; the latest pre-dose vitals reading, which stops the
    dose at a stop level and needs the prescriber's acknowledgement at review level; and the same-day safety gate:
    suicide risk (questionnaire alerts and the room's own screen, cleared only by a prescriber's decision to proceed
    recorded after them), the pregnancy test, and new medicines the screening rules would review. The room shows it;
    the order and the administration refuse with it."""

    patient: Patient
    gate_blockers: tuple[str, ...]
    doses_in_week_before: int
    weekly_limit: int
    # The first calendar day of the week doses_in_week_before counts (week_starts_on).
    week_from: datetime.date
    predose_reading: VitalsReading | None = None
    review_acknowledged: bool = False
    suicide_alerts: tuple[SuicideRiskAlert, ...] = ()
    risk_assessments: tuple[RoomRiskAssessment, ...] = ()
    pregnancy_problem: str = ""
    new_medicines: tuple[medications.NewMedicine, ...] = ()
    medicines_reviewed: tuple[str, ...] = ()
    # The latest MOAA/S rated before the dose, if any.
    predose_moaas: int | None = None
    # Doses given to the patient on the same day (the practice's), in any group, other than this record's own.
    doses_same_day: int = 0
    # Open alerts of the kinds safety.yaml review_before_dosing names (a long-term safety answer, a urine drug screen
    # positive for a substance not prescribed; a severe adverse event or stop-level vitals of an earlier day), oldest
    # first.
    review_alerts: tuple[CriticalAlert, ...] = ()
    # Allergic reactions to the drug a clinician acknowledged as confirmed and no prescriber has since corrected.
    confirmed_allergies: tuple[CriticalAlert, ...] = ()
    # When another dose of the patient, in any group, was given within the practice's minimum observation before `at`
    # (None when none was).
    observed_since: datetime.datetime | None = None
    observation_minutes: int = 0

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
            f"{self.patient.full_name} already had {count} dose{'s' if count != 1 else ''} in the 7 days before "
            f"(the calendar days since {day_in_words(self.week_from)}); the practice allows at most "
            f"{self.weekly_limit} a week."
        )

    @property
    def same_day_refusal(self) -> str:
        """One dose a day (safety.yaml one_dose_a_day): the weekly count lets a second dose through on the day of the
        first, in a session of another group."""
        if not self.doses_same_day:
            return ""
        return (
            f"{self.patient.full_name} has already had a dose today: one dose a day, in any group "
            f"({safety.one_dose_a_day_source()})."
        )

    @property
    def observation_refusal(self) -> str:
        """Another dose given within the minimum observation after it ([spravato-rems]: at least 2 hours after each
        dose), in any group: the one-a-day rule reads the practice's calendar day, which a session running past
        midnight crosses, so without this a dose at 23:30 could be followed by another at 00:30."""
        if self.observed_since is None:
            return ""
        return (
            f"{self.patient.full_name} had a dose on {day_in_words(self.observed_since)} at "
            f"{timezone.localtime(self.observed_since):%H:%M}, less than {self.observation_minutes} minutes before: "
            "every dose is followed by at least that long under observation, and no dose is given on top of it "
            f"({setting_named_for_staff('dosing.min_observation_minutes')})."
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
    def sedation_refusal(self) -> str:
        """Rated below alert before the dose: ketamine would add to a sedation already there (safety.yaml
        discharge_moaas). A later pre-dose rating of alert clears it."""
        alert = safety.discharge_moaas_baseline()
        if self.predose_moaas is None or self.predose_moaas >= alert:
            return ""
        return (
            f"Sedated before the dose (MOAA/S {self.predose_moaas}; alert is {alert}, responds readily to name): do "
            "not dose a patient already sedated. Rate sedation again when they are alert; a prescriber assesses why."
        )

    @property
    def review_refusal(self) -> str:
        """A review-level reading the order does not acknowledge, such as one taken after the order was written."""
        if not self.vitals_review or self.review_acknowledged:
            return ""
        return f"{self.vitals_review} Order the dose again with the pre-dose BP marked as reviewed."

    # --- suicide risk -------------------------------------------------------------------------------------------

    @property
    def positive_screens(self) -> tuple[RoomRiskAssessment, ...]:
        """The room's own assessments today at moderate or high risk."""
        return tuple(a for a in self.risk_assessments if safety.blocking_risk(a.risk_level))

    @property
    def risk_decision(self) -> RoomRiskAssessment | None:
        """The prescriber's latest decision (proceed or defer) recorded in the room."""
        return max((a for a in self.risk_assessments if a.decision), key=lambda a: (a.recorded_at, a.pk), default=None)

    @property
    def risk_reasons(self) -> list[str]:
        """Why a prescriber's same-day assessment is needed: each suicide-risk alert and positive room screen."""
        reasons = [f"questionnaire alert: {alert.described}" for alert in self.suicide_alerts]
        reasons += [
            f"room screen at {timezone.localtime(a.recorded_at):%H:%M}: {a.risk_level} risk"
            for a in self.positive_screens
        ]
        return reasons

    def _covered_by(self, decision: RoomRiskAssessment) -> bool:
        """A decision covers what was known when it was made: alerts raised and screens recorded up to it."""
        latest_alert = max((a.at for a in self.suicide_alerts), default=None)
        later_screen = any((s.recorded_at, s.pk) > (decision.recorded_at, decision.pk) for s in self.positive_screens)
        return not later_screen and (latest_alert is None or latest_alert <= decision.recorded_at)

    @property
    def risk_refusal(self) -> str:
        reasons = self.risk_reasons
        if not reasons:
            return ""
        decision = self.risk_decision
        if decision is not None and self._covered_by(decision):
            if decision.decision == RoomRiskAssessment.Decision.PROCEED:
                return ""
            by = decision.recorded_by.get_full_name() or decision.recorded_by.get_username()
            return (
                f"Dose deferred by {by} at {timezone.localtime(decision.recorded_at):%H:%M} after a same-day suicide "
                f"risk assessment ({decision.note}). Only a prescriber's new assessment deciding to proceed clears it."
            )
        return (
            f"Suicide risk to assess today: {'; '.join(reasons)}. A prescriber must record a same-day suicide risk "
            "assessment in the room (the C-SSRS screener since the last visit, or a clinician assessment) and decide "
            "to proceed before the dose is ordered or given; acknowledging an alert in the queue is not enough."
        )

    @property
    def safety_review_refusal(self) -> str:
        """A finding of the long-term safety follow-up or a urine drug screen, or a severe adverse event or stop-level
        vitals of an earlier day's session, still open in the queue (safety.yaml review_before_dosing): a clinician
        weighs it before the next dose."""
        if not self.review_alerts:
            return ""
        found = "; ".join(
            f"{alert.reason.rstrip('.')} (raised {day_in_words(alert.raised_at)}, "
            f"{timezone.localtime(alert.raised_at):%H:%M})"
            for alert in self.review_alerts
        )
        return (
            f"To review before the dose: {found}. A clinician reviews it and acknowledges the alert with a note in the "
            f"alert queue before the dose is ordered or given ({safety.review_before_dosing_source()})."
        )

    @property
    def allergy_refusal(self) -> str:
        """A confirmed allergic reaction to the drug: a contraindication, whenever and in whichever course it was."""
        if not self.confirmed_allergies:
            return ""
        return allergy_refusal(self.patient, self.confirmed_allergies)

    # --- pregnancy and medicines ---------------------------------------------------------------------------------

    @property
    def pregnancy_refusal(self) -> str:
        return f"Pregnancy: {self.pregnancy_problem}" if self.pregnancy_problem else ""

    @property
    def medicines_to_review(self) -> tuple[medications.NewMedicine, ...]:
        reviewed = set(self.medicines_reviewed)
        return tuple(medicine for medicine in self.new_medicines if medicine.name not in reviewed)

    @property
    def medication_refusal(self) -> str:
        waiting = self.medicines_to_review
        if not waiting:
            return ""
        return (
            "New since screening, and reviewed by the screening rules: "
            + ", ".join(medicine.described for medicine in waiting)
            + ". A prescriber must review them in the room (Medication review, with a note) before the dose is "
            "ordered or given."
        )

    @property
    def blockers(self) -> list[str]:
        refusals = (
            self.gate_refusal,
            self.spacing_refusal,
            self.same_day_refusal,
            self.observation_refusal,
            self.vitals_refusal,
            self.sedation_refusal,
            self.risk_refusal,
            self.safety_review_refusal,
            self.allergy_refusal,
            self.pregnancy_refusal,
            self.medication_refusal,
        )
        return [refusal for refusal in refusals if refusal]


@compiled_once(patient_ids=KEYS)
def _first_sessions_of_courses(*, patient_ids: list[int]) -> QuerySet[Enrolment, tuple[int, datetime.datetime | None]]:
    """(patient id, first session) of each group the patients are enrolled in or completed (one enrolment each). The
    first session is read by a subquery on the group's sessions: as the least of the enrolment joined to its group
    and their sessions, PostgreSQL took four times as long to plan the read as to run it (issue 19)."""
    first = GroupSession.objects.filter(group_id=OuterRef("group_id")).order_by("starts_at").values("starts_at")[:1]
    return (
        Enrolment.objects.filter(
            patient_id__in=patient_ids, status__in=[Enrolment.Status.ENROLLED, Enrolment.Status.COMPLETED]
        )
        .order_by()
        .values_list("patient_id", Subquery(first))
    )


def _course_starts(patient_ids: list[int], *, today: datetime.date) -> dict[int, datetime.date]:
    """Each patient's current course's first day: the latest first session, on or before today, of the groups they
    are enrolled in (a patient is in one course at a time). The gate judges the screening's expiry on that day."""
    starts: dict[int, datetime.date] = {}
    for patient_id, first in _first_sessions_of_courses(patient_ids=patient_ids):
        first_day = timezone.localdate(first) if first is not None else None
        if first_day is not None and first_day <= today and first_day > starts.get(patient_id, datetime.date.min):
            starts[patient_id] = first_day
    return starts


def _screened_entries(result: ScreeningResult) -> list[engine.Data]:
    """The medication entries of the intake a screening read."""
    return list((result.intake_version.data or {}).get("medications") or [])


def _reported_entries(answers: IntakeVersion | None) -> list[engine.Data]:
    """The medicine entries of the patient's own answers sent after their screening (GateStatus.patient_answers): a
    medicine they report from the portal is weighed as one added to the record."""
    return medications.reported_entries((answers.data or {}).get("medications") or []) if answers else []


def _names(entries: list[engine.Data]) -> list[str]:
    return [entry["name"] for entry in entries]


def _medicines_to_review(
    *,
    screened: list[engine.Data],
    on_record: list[engine.Data],
    reported: list[engine.Data],
    declared: list[list[engine.Data]],
    gate: engine.Data,
) -> list[medications.NewMedicine]:
    """What a prescriber reviews before a dose, and a new screening before a course: the medicines on the record, in
    the patient's own answers since screening or declared at a check-in since screening (`declared`, one list a
    check-in) that the screening did not list and its rules review, and a benzodiazepine load risen since screening
    above the screening's threshold (the gate's settings, `gate`)."""
    return medications.new_to_review(
        screened=_names(screened),
        current=[*_names(on_record), *_names(reported), *(name for entries in declared for name in _names(entries))],
    ) + medications.benzodiazepine_load_raised(
        screened=screened, current=[on_record, reported, *declared], threshold_mg=gate["benzo_dze_threshold_mg"]
    )


@dataclass(frozen=True)
class _Declared:
    """Medicines a check-in declared changed since screening: the record, when, and its lines."""

    record_id: int
    at: datetime.datetime
    text: str


def _declared_since_screening(
    declarations: list[_Declared],
    *,
    screened_on: datetime.date | None,
    record: DoseRecord | None,
    at: datetime.datetime,
) -> list[list[engine.Data]]:
    """The medicines declared at the check-ins since the latest screening's assessment day, up to `at`: this record's
    as it stands, and those of the patient's other check-ins (an earlier session, another course). A medicine declared
    once is taken until a screening assessed since weighs it: the next check-in's answer of "no changes since
    screening" does not unsay it."""
    declared = [medications.declared_entries(record.new_medications)] if record and record.new_medications else []
    if screened_on is None:
        return declared
    return declared + [
        medications.declared_entries(found.text)
        for found in sorted(declarations, key=lambda found: (found.at, found.record_id))
        if timezone.localdate(found.at) >= screened_on
        and found.at <= at
        and (record is None or found.record_id != record.pk)
    ]


@dataclass(frozen=True)
class _GateAndMedicines:
    blockers: dict[int, tuple[str, ...]]
    # The medication entries of the intake each patient's latest screening read, and the day it was assessed.
    screened: dict[int, list[engine.Data]]
    screened_on: dict[int, datetime.date]
    # Those of their own answers sent since.
    reported: dict[int, list[engine.Data]]


def _gate_and_screened_medicines(patients: list[Patient], gate: engine.Data) -> _GateAndMedicines:
    """The enrolment gate of each patient (judged by the gate's settings `gate`), the medication entries of the intake
    their latest screening read, and those of their own answers sent since."""
    statuses = gate_statuses(
        patients,
        course_starts=_course_starts([patient.pk for patient in patients], today=timezone.localdate()),
        settings=gate,
    )
    # The gate reads each latest screening with its intake, so the intake's medicines need no read of their own.
    return _GateAndMedicines(
        blockers={pid: status.blockers for pid, status in statuses.items()},
        screened={pid: _screened_entries(status.result) for pid, status in statuses.items() if status.result},
        screened_on={pid: status.result.assessed_on for pid, status in statuses.items() if status.result},
        reported={pid: _reported_entries(status.patient_answers) for pid, status in statuses.items()},
    )


def medicines_new_since_screening(*, patient: Patient) -> list[medications.NewMedicine]:
    """The medicines on the patient's record, or in their own answers sent since (a pre-intake), that their latest
    screening's intake did not list and that the screening rules review, and a benzodiazepine load risen since it:
    what the room asks a prescriber to review on the day, read for an enrolment, which a new screening clears. None
    without a screening (the gate refuses that itself)."""
    latest = ScreeningResult.objects.filter(patient=patient).select_related("intake_version").order_by("-pk").first()
    if latest is None:
        return []
    declared = (
        DoseRecord.objects.filter(patient=patient, checked_in_at__gte=_start_of(latest.assessed_on))
        .exclude(new_medications="")
        .order_by("checked_in_at", "pk")
        .values_list("new_medications", flat=True)
    )
    return _medicines_to_review(
        screened=_screened_entries(latest),
        on_record=medications.record_entries(list(Medication.objects.filter(patient=patient))),
        reported=_reported_entries(patient_answers_after(latest)),
        declared=[medications.declared_entries(text) for text in declared],
        gate=gate_settings(),
    )


def _latest_predose(record: DoseRecord | None) -> VitalsReading | None:
    """Reads the record's vitals through `record.vitals.all()`, so a prefetch serves it."""
    if record is None:
        return None
    return max(
        (reading for reading in record.vitals.all() if reading.phase == VitalsReading.Phase.PRE_DOSE),
        key=lambda reading: (reading.taken_at, reading.pk),
        default=None,
    )


@compiled_once(patient_ids=KEYS)
def _suicide_risk_occurrences(*, patient_ids: list[int]) -> QuerySet[AlertOccurrence]:
    # The questionnaire's instrument by key only: the whole assessment (its answers and result) was read and parsed
    # for that one column.
    return (
        AlertOccurrence.objects.filter(alert__patient_id__in=patient_ids, alert__kind=SUICIDE_RISK)
        .select_related("alert")
        .annotate(assessment_instrument_id=F("assessment__instrument_id"))
    )


def _suicide_alerts(
    patient_ids: list[int], last_dose: dict[int, datetime.datetime]
) -> dict[int, list[SuicideRiskAlert]]:
    """Each patient's questionnaire suicide-risk answers that block, read from the alert queue's history (an answer
    may join an alert already open): on an alert still open at moderate or above, or given since the patient's last
    dose, acknowledged or not (with no dose yet, any)."""
    found: defaultdict[int, list[SuicideRiskAlert]] = defaultdict(list)
    for occurrence in _suicide_risk_occurrences(patient_ids=patient_ids):
        instrument_id = occurrence.assessment_instrument_id or ""  # type: ignore[attr-defined]  # annotated by the read
        level = safety.suicide_risk_level(instrument_id=instrument_id, rule=occurrence.rule, level=occurrence.level)
        if level is None:
            continue
        patient_id = occurrence.alert.patient_id
        assert patient_id is not None  # the query reads only alerts about these patients
        since = last_dose.get(patient_id)
        if (occurrence.alert.is_open and safety.blocking_risk(level)) or since is None or occurrence.at > since:
            found[patient_id].append(SuicideRiskAlert(occurrence.alert, level, occurrence.at, occurrence.reason))
    return found


@compiled_once(patient_ids=KEYS)
def _review_alerts_open(kinds: tuple[str, ...], *, patient_ids: list[int]) -> QuerySet[CriticalAlert]:
    return CriticalAlert.objects.filter(
        patient_id__in=patient_ids, kind__in=kinds, acknowledged_at__isnull=True
    ).order_by("raised_at", "id")


def safety_reviews_open(*, patient: Patient) -> list[CriticalAlert]:
    """The patient's open alerts that hold a dose and a new course until acknowledged (safety.yaml
    review_before_dosing). Read for a decision about the patient (an enrolment) by staff already allowed to make it, so
    not filtered by a viewer's care team."""
    return list(_review_alerts_open(safety.review_before_dosing_kinds(), patient_ids=[patient.pk]))


@compiled_once(patient_ids=KEYS)
def _allergies_confirmed(*, patient_ids: list[int]) -> QuerySet[CriticalAlert]:
    return (
        CriticalAlert.objects.filter(
            patient_id__in=patient_ids,
            kind=HYPERSENSITIVITY_EVENT,
            acknowledgement_finding=CriticalAlert.Finding.CONFIRMED,
        )
        .select_related("acknowledged_by")
        .order_by("acknowledged_at", "id")
    )


def allergies_confirmed(*, patient: Patient) -> list[CriticalAlert]:
    """The patient's allergic reactions to the drug a clinician acknowledged as confirmed and no prescriber has
    corrected (safety.yaml confirmed_hypersensitivity). Read for a decision about the patient (an enrolment), so not
    filtered by a viewer's care team."""
    return list(_allergies_confirmed(patient_ids=[patient.pk]))


def allergy_refusal(patient: Patient, alerts: Iterable[CriticalAlert]) -> str:
    found = "; ".join(
        f"{alert.reason.rstrip('.')} (raised {day_in_words(alert.raised_at)})"
        + (
            f", confirmed by {alert.acknowledged_by} on {day_in_words(alert.acknowledged_at)}"
            if alert.acknowledged_at
            else ""
        )
        for alert in alerts
    )
    return (
        f"{patient.full_name} had a confirmed allergic (hypersensitivity) reaction to the drug: {found}. Ketamine and "
        f"esketamine are contraindicated in hypersensitivity ({safety.confirmed_hypersensitivity_source()}); no dose "
        "or course until a prescriber records in the alert queue, with a reason, that it was not an allergic reaction."
    )


def discharge_reviews_open(*, patient_id: int) -> list[CriticalAlert]:
    """The patient's open alerts that hold discharge, dosed or not (safety.yaml discharge_waits_for: a secure message
    the crisis screen flagged), oldest first."""
    return list(_review_alerts_open(safety.discharge_waits_for_kinds(), patient_ids=[patient_id]))


# How a severe adverse event and a stop-level vitals reading are announced to the alert queue
# (practice.signals.SAFETY_EVENT_KINDS), and found there.
SEVERE_ADVERSE_EVENT = "adverse_event_serious"
HYPERSENSITIVITY_EVENT = "adverse_event_hypersensitivity"
ADVERSE_EVENT_OBJECT = "adverse_event"
VITALS_STOP = "vitals_stop"
VITALS_READING_OBJECT = "vitals_reading"
ROOM_SUICIDE_SCREEN = "room_suicide_screen"
ROOM_RISK_ASSESSMENT_OBJECT = "room_risk_assessment"


def _alerts_open(*, kind: str, object_type: str, object_ids: list[int]) -> list[CriticalAlert]:
    if not object_ids:
        return []
    return list(
        CriticalAlert.objects.filter(
            kind=kind,
            object_type=object_type,
            object_id__in=[str(pk) for pk in object_ids],
            acknowledged_at__isnull=True,
        ).order_by("raised_at", "id")
    )


def severe_adverse_event_alerts_open(*, record: DoseRecord) -> list[CriticalAlert]:
    """The alerts the record's severe adverse events raised on the queue that nobody has acknowledged yet."""
    event_ids = record.adverse_events.filter(severity=AdverseEvent.Severity.SEVERE).values_list("pk", flat=True)
    return _alerts_open(kind=SEVERE_ADVERSE_EVENT, object_type=ADVERSE_EVENT_OBJECT, object_ids=list(event_ids))


def room_screen_alerts_open(*, record: DoseRecord) -> list[CriticalAlert]:
    """The alerts the record's own same-day suicide screens at moderate or high risk raised on the queue that nobody
    has acknowledged, of screens no prescriber's decision (proceed or defer, with a note) was recorded at or after:
    either is a clinician's assessment of the screen."""
    assessments = list(record.risk_assessments.all())
    decided = max(((a.recorded_at, a.pk) for a in assessments if a.decision), default=None)
    screens = [
        a.pk
        for a in assessments
        if safety.blocking_risk(a.risk_level) and (decided is None or decided < (a.recorded_at, a.pk))
    ]
    return _alerts_open(kind=ROOM_SUICIDE_SCREEN, object_type=ROOM_RISK_ASSESSMENT_OBJECT, object_ids=screens)


def stop_vitals_alerts_open(*, record: DoseRecord) -> list[CriticalAlert]:
    """The alerts the record's stop-level readings taken since the dose raised on the queue that nobody has
    acknowledged yet. A stop-level reading before the dose is the pre-dose gate's (DoseReadiness.vitals_refusal)."""
    if record.administered_at is None:
        return []
    reading_ids = record.vitals.filter(alert_level="stop", taken_at__gte=record.administered_at).values_list(
        "pk", flat=True
    )
    return _alerts_open(kind=VITALS_STOP, object_type=VITALS_READING_OBJECT, object_ids=list(reading_ids))


def pregnancy_problem(*, record: DoseRecord | None, patient: Patient, on: datetime.date, valid_days: int) -> str:
    """What is wrong with the day's pregnancy check; "" when it passes. "Not applicable" holds only where the record
    documents no childbearing potential; otherwise a negative test taken within the practice's window."""
    test = record.pregnancy_test if record else ""
    if test == DoseRecord.PregnancyTest.POSITIVE:
        return "the test is positive, an absolute contraindication: do not dose (Spravato label)."
    if test == DoseRecord.PregnancyTest.NOT_APPLICABLE:
        if patient.childbearing_potential == ChildbearingPotential.NO:
            return ""
        return (
            'marked not applicable, but the patient record does not document "no childbearing potential": a '
            "clinician records it on the patient's page, or record a negative test."
        )
    if test == DoseRecord.PregnancyTest.NEGATIVE and record is not None:
        taken = record.pregnancy_test_on
        if taken is None or taken > on:
            return "record the day the negative test was taken."
        if (on - taken).days > valid_days:
            window = "on the day of the dose" if valid_days == 0 else f"within {valid_days} days before the dose"
            return (
                f"the negative test of {day_in_words(taken)} is too old: the practice needs one {window} "
                f"({setting_named_for_staff('dosing.pregnancy_test_valid_days')})."
            )
        return ""
    return "no test recorded (mark not applicable only where the record documents no childbearing potential)."


@compiled_once(patient_ids=KEYS)
def _doses_given(
    *, patient_ids: list[int]
) -> QuerySet[DoseRecord, tuple[int, int, datetime.datetime | None, datetime.datetime | None, str]]:
    """Every dose given to these patients, for both the week's count and the last dose before this one (the latest
    other than their records here): the last-dose read went through the same rows, so one read of their ids and
    times replaced two queries (issue 19). With them, in the same read, every check-in that declared medicines changed
    since screening (its time and lines), which the room weighs at every later dose until a new screening does.
    Unordered (order_by()): the records' default order joined their sessions and patients to sort rows read only to be
    counted."""
    declared = Q(checked_in_at__isnull=False) & ~Q(new_medications="")
    return (
        DoseRecord.objects.filter(Q(administered_at__isnull=False) | declared, patient_id__in=patient_ids)
        .order_by()
        .values_list("pk", "patient_id", "administered_at", "checked_in_at", "new_medications")
    )


@compiled_once(patient_ids=KEYS)
def _medications_on_record(*, patient_ids: list[int]) -> QuerySet[Medication, tuple[int, str, str, str]]:
    return Medication.objects.filter(patient_id__in=patient_ids).values_list("patient_id", "name", "dose", "frequency")


def _readiness(
    cases: list[tuple[Patient, datetime.datetime, DoseRecord | None]], *, settings: RoomSettings
) -> list[DoseReadiness]:
    """Readiness of each (patient, at, their record in this session) case, with one read of the doses given to all
    of them: a dose counts when given in the 7 days before `at`, up to `at`, other than the record's own. The
    records' vitals and risk assessments are read through `record.vitals.all()` and `record.risk_assessments.all()`,
    so a prefetch serves them."""
    if not cases:
        return []
    limits = settings.limits
    patients = [patient for patient, _, _ in cases]
    patient_ids = [patient.pk for patient in patients]
    own_records = {record.pk for _, _, record in cases if record is not None}
    given: defaultdict[int, list[tuple[int, datetime.datetime]]] = defaultdict(list)
    last_dose: dict[int, datetime.datetime] = {}
    declarations: defaultdict[int, list[_Declared]] = defaultdict(list)
    for record_id, patient_id, administered_at, checked_in_at, new_medications in _doses_given(patient_ids=patient_ids):
        if checked_in_at is not None and new_medications:
            declarations[patient_id].append(_Declared(record_id, checked_in_at, new_medications))
        if administered_at is None:
            continue  # a check-in's declaration only
        given[patient_id].append((record_id, administered_at))
        if record_id not in own_records and (patient_id not in last_dose or administered_at > last_dose[patient_id]):
            last_dose[patient_id] = administered_at
    alerts = _suicide_alerts(patient_ids, last_dose)
    reviews: defaultdict[int, list[CriticalAlert]] = defaultdict(list)
    for alert in _review_alerts_open(safety.review_before_dosing_kinds(), patient_ids=patient_ids):
        assert alert.patient_id is not None  # the query reads only alerts about these patients
        reviews[alert.patient_id].append(alert)
    allergies: defaultdict[int, list[CriticalAlert]] = defaultdict(list)
    for alert in _allergies_confirmed(patient_ids=patient_ids):
        assert alert.patient_id is not None  # the query reads only alerts about these patients
        allergies[alert.patient_id].append(alert)
    earlier_day_only = safety.review_before_dosing_earlier_day_kinds()
    observation = datetime.timedelta(minutes=limits["min_observation_minutes"])
    gate_and_medicines = _gate_and_screened_medicines(patients, settings.gate)
    gate, screened, reported = gate_and_medicines.blockers, gate_and_medicines.screened, gate_and_medicines.reported
    on_record: defaultdict[int, list[Medication]] = defaultdict(list)
    for patient_id, name, dose, frequency in _medications_on_record(patient_ids=patient_ids):
        on_record[patient_id].append(Medication(name=name, dose=dose, frequency=frequency))
    readiness = []
    for patient, at, record in cases:
        predose = _latest_predose(record)
        declared = _declared_since_screening(
            declarations[patient.pk],
            screened_on=gate_and_medicines.screened_on.get(patient.pk),
            record=record,
            at=at,
        )
        readiness.append(
            DoseReadiness(
                patient=patient,
                gate_blockers=gate[patient.pk],
                doses_in_week_before=sum(
                    1
                    for record_id, administered_at in given[patient.pk]
                    if administered_at <= at
                    and timezone.localdate(administered_at) >= week_starts_on(at)
                    and (record is None or record_id != record.pk)
                ),
                weekly_limit=limits["max_doses_per_7_days"],
                week_from=week_starts_on(at),
                predose_reading=predose,
                review_acknowledged=(
                    record is not None and predose is not None and record.predose_review_reading_id == predose.pk
                ),
                suicide_alerts=tuple(alerts[patient.pk]),
                risk_assessments=tuple(record.risk_assessments.all()) if record else (),
                pregnancy_problem=pregnancy_problem(
                    record=record,
                    patient=patient,
                    on=timezone.localdate(at),
                    valid_days=limits["pregnancy_test_valid_days"],
                ),
                new_medicines=tuple(
                    _medicines_to_review(
                        screened=screened.get(patient.pk, []),
                        on_record=medications.record_entries(on_record[patient.pk]),
                        reported=reported[patient.pk],
                        declared=declared,
                        gate=settings.gate,
                    )
                ),
                medicines_reviewed=tuple(record.medication_reviewed) if record else (),
                predose_moaas=record.predose_moaas if record else None,
                review_alerts=tuple(
                    alert
                    for alert in reviews[patient.pk]
                    if alert.kind not in earlier_day_only
                    or timezone.localdate(alert.raised_at) < timezone.localdate(at)
                ),
                confirmed_allergies=tuple(allergies[patient.pk]),
                observed_since=max(
                    (
                        administered_at
                        for record_id, administered_at in given[patient.pk]
                        if at - observation < administered_at <= at and (record is None or record_id != record.pk)
                    ),
                    default=None,
                ),
                observation_minutes=limits["min_observation_minutes"],
                doses_same_day=sum(
                    1
                    for record_id, administered_at in given[patient.pk]
                    if timezone.localdate(administered_at) == timezone.localdate(at)
                    and (record is None or record_id != record.pk)
                ),
            )
        )
    return readiness


def dose_readiness(*, record: DoseRecord, at: datetime.datetime) -> DoseReadiness:
    return _readiness([(record.patient, at, record)], settings=room_settings())[0]


@dataclass(frozen=True)
class PostDoseVitals:
    """The vitals reading due the practice's vitals_check_minutes_after_dose (about 40) after the dose: the first
    reading recorded as that phase at or after the mark. Discharge waits for it."""

    due_at: datetime.datetime
    minutes_after_dose: int
    reading: VitalsReading | None
    overdue: bool
    # The end of the practice's minimum observation: the card says it, as discharge refuses to come before it.
    observed_until: datetime.datetime
    observation_minutes: int

    @property
    def done(self) -> bool:
        return self.reading is not None


def post_dose_vitals(record: DoseRecord | None, *, limits: Limits, now: datetime.datetime) -> PostDoseVitals | None:
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
    observation = limits["min_observation_minutes"]
    return PostDoseVitals(
        due_at,
        minutes,
        reading,
        overdue=reading is None and now >= due_at,
        observed_until=record.administered_at + datetime.timedelta(minutes=observation),
        observation_minutes=observation,
    )


def early_post_dose_check(*, record: DoseRecord, reading: VitalsReading) -> str:
    """What to say of a reading recorded as the check after the dose but taken before its mark (or before the dose):
    it is kept as recorded and discharge does not count it (post_dose_vitals), which the nurse otherwise learns only
    when discharge is refused for a check they remember taking. Empty for any other reading."""
    if reading.phase != VitalsReading.Phase.PEAK:
        return ""
    label = VitalsReading.Phase.PEAK.label
    if record.administered_at is None:
        return f'Saved as "{label}", but no dose is given yet: it does not count as the check after the dose.'
    minutes = room_thresholds()["vitals_check_minutes_after_dose"]
    due_at = record.administered_at + datetime.timedelta(minutes=minutes)
    if reading.taken_at >= due_at:
        return ""
    after = int((reading.taken_at - record.administered_at).total_seconds() // 60)
    return (
        f'Saved as "{label}", but taken {after} minutes after the dose: it does not count as the check {minutes} '
        f"minutes after it. Take it again from {timezone.localtime(due_at):%H:%M}."
    )


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


@built_once_per_user
def _dosing_sessions_visible_to(user: User) -> QuerySet[GroupSession]:
    """The dosing sessions the user may see, with their group and room: built once for each user (kapstone.built_once),
    as resolving the care-team test's subqueries took longer than reading the one session the room asks for."""
    return GroupSession.objects.filter(dosing_session_visible_to(user)).select_related("group", "room")


@compiled_once(session_id=int)
def _dosing_session(user: User, *, session_id: int) -> QuerySet[GroupSession]:
    return _dosing_sessions_visible_to(user).filter(pk=session_id).order_by()  # one row: the sessions' order unused


def _session_get(*, user: User, session_id: int | str) -> GroupSession:
    try:
        return _dosing_session(user, session_id=int(session_id))[0]
    except (IndexError, ValueError, TypeError):
        raise Http404("No such dosing session.") from None


# The enrolments whose patients the room shows and doses: in the course, or finishing its last session.
ROOM_ENROLMENTS = (Enrolment.Status.ENROLLED, Enrolment.Status.COMPLETED)


@compiled_once(group_id=int)
def _enrolled_patients(user: User, *, group_id: int) -> QuerySet[Patient]:
    # The enrolment tested on the join itself: as an IN over a subquery of the group's enrolments, it was the same
    # rows with a second query to build and compile on every load of the room (issue 19).
    return (
        patients_visible_to(user)
        .filter(
            enrolments__group=group_id,
            enrolments__status__in=ROOM_ENROLMENTS,
        )
        .order_by("family_name", "given_name")
    )


def _session_patients(*, user: User, session: GroupSession) -> list[Patient]:
    return _enrolled_patients(user, group_id=session.group_id)


RECORD_STAFF = ("ordered_by", "administered_by", "witness", "discharged_by")


def _with_staff(records: list[DoseRecord], *, known: Iterable[User] = ()) -> None:
    """Sets who ordered, gave, witnessed and discharged each record, and who recorded each of its suicide-risk
    assessments (read through `record.risk_assessments.all()`, so a prefetch serves them), from one read of those
    few staff, but for those among `known` (staff the page has read already): joined to the records and the
    assessments instead, they were more tables for PostgreSQL's planner to order and more columns to read on every
    load of the room."""
    assessments = [assessment for record in records for assessment in record.risk_assessments.all()]
    ids = {getattr(record, f"{role}_id") for record in records for role in RECORD_STAFF}
    ids |= {assessment.recorded_by_id for assessment in assessments}
    staff = {person.pk: person for person in known}
    # in_bulk reads nothing for no ids: the room's witnesses are usually everyone who ordered, gave or discharged.
    staff |= User.objects.in_bulk(ids - {None} - staff.keys())
    for record in records:
        for role in RECORD_STAFF:
            staff_id = getattr(record, f"{role}_id")
            if staff_id is not None:
                setattr(record, role, staff[staff_id])
    for assessment in assessments:
        assessment.recorded_by = staff[assessment.recorded_by_id]


@compiled_once(session_id=int, patient_ids=KEYS)
def _room_records(*, session_id: int, patient_ids: list[int]) -> QuerySet[DoseRecord]:
    return (
        DoseRecord.objects.filter(session_id=session_id, patient_id__in=patient_ids)
        .order_by()  # looked up by patient: the default order joined the sessions and patients to sort them
        .select_related("lot")
    )


# The room's records' vitals, adverse events and suicide-risk assessments (who recorded them is set by _with_staff),
# each in its model's order: read by prefetch_related, each read was compiled again on every load of the room
# (issue 19).
@compiled_once(record_ids=KEYS)
def _records_vitals(*, record_ids: list[int]) -> QuerySet[VitalsReading]:
    return VitalsReading.objects.filter(record_id__in=record_ids).order_by("taken_at", "id")


@compiled_once(record_ids=KEYS)
def _records_adverse_events(*, record_ids: list[int]) -> QuerySet[AdverseEvent]:
    return AdverseEvent.objects.filter(record_id__in=record_ids)


@compiled_once(record_ids=KEYS)
def _records_risk_assessments(*, record_ids: list[int]) -> QuerySet[RoomRiskAssessment]:
    return RoomRiskAssessment.objects.filter(record_id__in=record_ids)


def _room_records_with_their_rows(*, session_id: int, patient_ids: list[int]) -> list[DoseRecord]:
    """The session's records of these patients, each with its vitals, adverse events and risk assessments, which
    `record.vitals.all()` and the others answer without a query."""
    records = _room_records(session_id=session_id, patient_ids=patient_ids)
    if records:
        record_ids = [record.pk for record in records]
        as_prefetched(records, "vitals", _records_vitals(record_ids=record_ids))
        as_prefetched(records, "adverse_events", _records_adverse_events(record_ids=record_ids))
        as_prefetched(records, "risk_assessments", _records_risk_assessments(record_ids=record_ids))
    return records


def session_room(
    *, user: User, session_id: int | str, settings: RoomSettings | None = None, staff: Iterable[User] = ()
) -> tuple[GroupSession, list[RoomPatient]]:
    """The session and each of the user's patients in it, with what would stop their dose and when their post-dose
    vitals are due, read for all patients at once. `settings` are the room's when the caller has read them
    (room_settings) for the page already; `staff`, users it has read, whom the records' staff are not read again."""
    session = _session_get(user=user, session_id=session_id)
    patients = _session_patients(user=user, session=session)
    records = {
        record.patient_id: record
        for record in _room_records_with_their_rows(
            session_id=session.pk, patient_ids=[patient.pk for patient in patients]
        )
    }
    _with_staff(list(records.values()), known=staff)
    audit.record(
        action=audit.Action.READ,
        object_type="dosing_room",
        object_id=session.pk,
        detail={"patient_ids": [p.pk for p in patients]},
    )
    now, settings = timezone.now(), settings if settings is not None else room_settings()
    limits = settings.limits
    # A dose already given is counted against the week before it; one still to give, against the week before now.
    cases = []
    for patient in patients:
        record = records.get(patient.pk)
        cases.append((patient, record.administered_at if record and record.administered_at else now, record))
    readiness = _readiness(cases, settings=settings)
    return session, [
        RoomPatient(patient, record, ready, post_dose_vitals(record, limits=limits, now=now))
        for (patient, _, record), ready in zip(cases, readiness, strict=True)
    ]


def room_patient(*, user: User, session_id: int | str, patient_id: int | str) -> tuple[GroupSession, Patient]:
    session = _session_get(user=user, session_id=session_id)
    for patient in _session_patients(user=user, session=session):
        if str(patient.pk) == str(patient_id):
            return session, patient
    raise Http404("That patient is not in this session.")


def room_settings() -> RoomSettings:
    """The room's settings from one read of the practice's dosing and screening settings: read by each use, the
    same rows were read three times for every load of the room."""
    overrides = practice_overrides_of("dosing", SCREENING_SETTINGS)
    return RoomSettings(
        _thresholds(overrides["dosing"], overrides[SCREENING_SETTINGS]), gate_settings(overrides[SCREENING_SETTINGS])
    )


def _thresholds(dosing: engine.Data, screening_overrides: engine.Data) -> Limits:
    limits = safety.thresholds(dosing)
    screening = engine.effective_settings(engine.load_rule_set(), screening_overrides)
    for measure in ("systolic", "diastolic"):
        limits[f"stop_{measure}"] = min(limits[f"stop_{measure}"], screening[f"bp_exclude_{measure}_mmhg"])
        review = f"predose_{measure}_review"
        limits[review] = min(limits[review], screening[f"bp_review_{measure}_mmhg"])
    return limits


def room_thresholds() -> Limits:
    """The practice's dosing thresholds, with the blood-pressure levels held at the screening's where those are
    lower: the stop levels at its exclusion thresholds, so a reading the screening would exclude a patient for never
    passes in the room; the pre-dose review levels at its review thresholds, so a reading the screening would ask a
    prescriber to review is reviewed on the day too (both read [spravato-rems] 140/90). Whatever order the settings
    were changed in."""
    overrides = practice_overrides_of("dosing", SCREENING_SETTINGS)
    return _thresholds(overrides["dosing"], overrides[SCREENING_SETTINGS])


def checklist_missing(*, record: DoseRecord) -> list[str]:
    """What is still missing before a dose may be given (the same-day safety gate is DoseReadiness)."""
    missing = []
    if not record.fasting_confirmed:
        missing.append("fasting not confirmed")
    if not record.escort_arranged:
        missing.append("no escort or ride home arranged")
    if not record.pregnancy_test:
        missing.append("pregnancy test not recorded (mark not applicable where it is)")
    if not record.medication_changes:
        missing.append("medication changes since screening not asked")
    if room_thresholds()["room_suicide_screen"] and not record.risk_assessments.exists():
        missing.append("no same-day suicide screen (C-SSRS since last visit)")
    predose = record.vitals.filter(phase=VitalsReading.Phase.PRE_DOSE).order_by("-taken_at", "-id").first()
    if predose is None:
        missing.append("no pre-dose vitals")
    elif record.route in safety.RESPIRATORY_RATE_ROUTES and predose.respiratory_rate is None:
        missing.append(f"no respiratory rate on the pre-dose vitals ({Route(record.route).label} dose)")
    return missing


def _start_of(day: datetime.date) -> datetime.datetime:
    """Midnight at the start of `day` in the practice's time zone."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


@dataclass(frozen=True)
class LedgerFilter:
    location: str = ""
    lot_id: int | None = None
    since: datetime.date | None = None
    until: datetime.date | None = None

    def bounds(self) -> dict[str, Any]:
        """The filters given, as _entries_within takes them. The practice's days are bounds on the time itself, which
        the (recorded_at, id) index serves; the date of each entry's time would be worked out row by row."""
        bounds: dict[str, Any] = {}
        if self.location:
            bounds["location"] = self.location
        if self.lot_id:
            bounds["lot_id"] = self.lot_id
        if self.since:
            bounds["recorded_from"] = _start_of(self.since)
        if self.until:
            bounds["recorded_before"] = _start_of(self.until + datetime.timedelta(days=1))
        return bounds

    def entries(self) -> QuerySet[LedgerEntry]:
        return _entries_within(**self.bounds())


def _entries_within(
    *,
    location: str | None = None,
    lot_id: int | None = None,
    recorded_from: datetime.datetime | None = None,
    recorded_before: datetime.datetime | None = None,
) -> QuerySet[LedgerEntry]:
    """The entries within the bounds given (LedgerFilter.bounds)."""
    entries = LedgerEntry.objects.all()
    if location is not None:
        entries = entries.filter(location=location)
    if lot_id is not None:
        entries = entries.filter(lot_id=lot_id)
    if recorded_from is not None:
        entries = entries.filter(recorded_at__gte=recorded_from)
    if recorded_before is not None:
        entries = entries.filter(recorded_at__lt=recorded_before)
    return entries


@dataclass(frozen=True)
class LedgerRow:
    """One entry as the record shows it: the patient of an administration or waste by record number only when the
    viewer may see that patient, else as "a patient outside your care team"."""

    entry: LedgerEntry
    patient_label: str

    @property
    def units(self) -> Decimal | None:
        return self.entry.lot.in_units(self.entry.change_mg)

    @property
    def balance_units(self) -> Decimal | None:
        return self.entry.lot.in_units(self.entry.balance_after_mg)


OUTSIDE_CARE_TEAM = "a patient outside your care team"
LEDGER_PAGE_SIZE = 50


def _dose_patient_id(entry: LedgerEntry) -> int | None:
    """The patient of an administration's or a waste's entry, by the key _ledger_entries reads with the entry."""
    patient_id: int | None = entry.dose_patient_id  # type: ignore[attr-defined]  # annotated by _ledger_entries
    return patient_id


@compiled_once(signer_ids=KEYS)
def _signers_or_signing(signing_roles: frozenset[str], *, signer_ids: list[int]) -> QuerySet[User]:
    """_signers_and_signing_staff's read, compiled once for each set of roles (and number of signers)."""
    who = Q(pk__in=signer_ids)
    if signing_roles:
        who |= Q(role__in=sorted(signing_roles), is_active=True)
    return User.objects.filter(who).order_by("last_name", "username")


def _signers_and_signing_staff(
    entries: list[LedgerEntry], signing_roles: frozenset[str]
) -> tuple[dict[int, User], list[User]]:
    """The entries' signers by id and the staff who may sign an entry now (active, of `signing_roles`) by name, from
    one read of the few staff who sign: the ledger page's forms offer those who may sign, and read them apart took a
    query of its own (issue 19)."""
    signer_ids = {e.recorded_by_id for e in entries} | {e.witness_id for e in entries if e.witness_id}
    staff = _signers_or_signing(signing_roles, signer_ids=sorted(signer_ids))
    return {person.pk: person for person in staff}, [
        person for person in staff if person.role in signing_roles and person.is_active
    ]


@compiled_once(patient_ids=KEYS)
def _visible_of(user: User, *, patient_ids: list[int]) -> QuerySet[Patient, int]:
    """Which of the patients the user may see, compiled once for each user (and number of patients)."""
    return patients_visible_to(user).filter(pk__in=patient_ids).order_by().values_list("pk", flat=True)


def _ledger_rows(user: User, entries: list[LedgerEntry], signers: dict[int, User]) -> list[LedgerRow]:
    """The rows of entries read by _ledger_entries, with their `signers` by id."""
    dose_patients = {entry.pk: _dose_patient_id(entry) for entry in entries}
    patient_ids = {patient_id for patient_id in dose_patients.values() if patient_id is not None}
    visible = set(_visible_of(user, patient_ids=sorted(patient_ids)))
    rows = []
    for entry in entries:
        entry.recorded_by = signers[entry.recorded_by_id]
        if entry.witness_id is not None:
            entry.witness = signers[entry.witness_id]
        patient_id, label = dose_patients[entry.pk], ""
        if patient_id is not None:
            label = record_number_of(patient_id) if patient_id in visible else OUTSIDE_CARE_TEAM
        rows.append(LedgerRow(entry, label))
    audit.record(
        action=audit.Action.READ,
        object_type="controlled_substance_log",
        detail={"patient_ids": sorted(patient_ids & visible)},
    )
    return rows


def _ledger_entries(filters: LedgerFilter) -> QuerySet[LedgerEntry]:
    """The entries with their lot and the entry each corrects, and the patient of a dose's entry by key only. Each
    table joined costs PostgreSQL's planner more than the last: joined to their signers and their dose's record and
    patient as well (eight tables), a window of 50 entries took about 20 ms to plan and under 1 ms to run, on every
    page of the log. The signers come from one small read (_signers_and_signing_staff)."""
    return _as_logged(filters.entries())


def _as_logged(entries: QuerySet[LedgerEntry]) -> QuerySet[LedgerEntry]:
    return entries.select_related("lot", "corrects").annotate(dose_patient_id=F("dose_record__patient_id"))


def _as_logged_window(entries: QuerySet[LedgerEntry]) -> QuerySet[LedgerEntry]:
    """_as_logged for a window of entries: the patient of a dose's entry read by a subquery on the dose's key, not a
    join, which halved the time PostgreSQL took to plan the page's window (about 0.8 ms to 0.4 ms, issue 19). The
    subquery runs once for each of the window's entries; an export of every entry keeps the join."""
    dose_patient = DoseRecord.objects.filter(pk=OuterRef("dose_record_id")).order_by().values("patient_id")[:1]
    return entries.select_related("lot", "corrects").annotate(dose_patient_id=Subquery(dose_patient))


def in_stock_or(lot_id: int | None = None) -> Q:
    """The balances the ledger page offers and lists: those holding stock, with every balance of the lot the page is
    filtered to. A lot used up stays in the log for good, so a practice's lots at 0 grow without end; such a lot is
    reached from its entries (each links to its lot's entries), where the page is filtered to it."""
    offered = Q(balance_mg__gt=0)
    return offered | Q(lot_id=lot_id) if lot_id else offered


def _in_stock_or(balance: LotBalance, lot_id: int | None) -> bool:
    """in_stock_or(lot_id) asked of a balance already read."""
    return balance.balance_mg > 0 or (bool(lot_id) and balance.lot_id == lot_id)


@dataclass(frozen=True)
class LedgerBalances:
    """The balances the ledger page lists and offers, read once for the page (issue 19): those in stock with every
    balance of the lot `lot_id` (the lot the filter asks for), with their lots, and the name of every location a
    balance is held at. The page's table, its forms' lots, the inventory's counts and the filter's lots each read
    these rows in an order of their own, four reads of one small table a request.

    Each list keeps its query's order. Lot numbers and locations are put in order as the database sorts them
    (`rows` is read in lot-number order, `locations` in name order), as its collation may sort text otherwise than
    Python; rows those orders leave tied come in the order of their ids, where each query left them in any order."""

    lot_id: int | None
    locations: list[str]
    rows: list[LotBalance]

    @functools.cached_property
    def _number_rank(self) -> dict[str, int]:
        ranks: dict[str, int] = {}
        for balance in self.rows:
            ranks.setdefault(balance.lot.lot_number, len(ranks))
        return ranks

    @functools.cached_property
    def _location_rank(self) -> dict[str, int]:
        return {name: rank for rank, name in enumerate(self.locations)}

    def _place(self, location: str) -> int:
        # A balance made at a new location between the two reads sorts after the locations read.
        return self._location_rank.get(location, len(self._location_rank))

    def _covers(self, lot_id: int | None) -> None:
        if lot_id and lot_id != self.lot_id:
            raise ValueError(f"The balances were read for lot {self.lot_id}, not lot {lot_id}.")

    def listed(self, filters: LedgerFilter) -> list[LotBalance]:
        """The page's table: in stock or of the lot filtered to, at the location filtered to, by the lot's expiry
        and the location."""
        self._covers(filters.lot_id)
        shown = [
            balance
            for balance in self.rows
            if _in_stock_or(balance, filters.lot_id)
            and (not filters.location or balance.location == filters.location)
            and (not filters.lot_id or balance.lot_id == filters.lot_id)
        ]
        return sorted(shown, key=lambda balance: (balance.lot.expires_on, self._place(balance.location), balance.pk))

    def offered(self, lot_id: int | None) -> list[LotBalance]:
        """A form's lots and locations: in stock or of `lot_id`, by lot number."""
        self._covers(lot_id)
        offered = [balance for balance in self.rows if _in_stock_or(balance, lot_id)]
        return sorted(offered, key=lambda balance: (self._number_rank[balance.lot.lot_number], balance.pk))

    def held(self) -> list[LotBalance]:
        """The inventory's lots to count: those in stock, by location and lot number."""
        held = [balance for balance in self.rows if balance.balance_mg > 0]
        return sorted(
            held,
            key=lambda balance: (
                self._place(balance.location),
                self._number_rank[balance.lot.lot_number],
                balance.pk,
            ),
        )

    def lots(self) -> list[SubstanceLot]:
        """The filter's lots: those of a balance in stock, and the lot asked for, in a lot's order (expiry and lot
        number)."""
        lots = {balance.lot_id: balance.lot for balance in self.rows if _in_stock_or(balance, self.lot_id)}
        return sorted(lots.values(), key=lambda lot: (lot.expires_on, self._number_rank[lot.lot_number], lot.pk))


def _balances(offered: Q) -> QuerySet[LotBalance]:
    return LotBalance.objects.filter(offered).select_related("lot").order_by("lot__lot_number")


# ledger_balances' reads, compiled once a process (issue 19).
@compiled_once()
def _balances_in_stock() -> QuerySet[LotBalance]:
    return _balances(in_stock_or())


@compiled_once(lot_id=int)
def _balances_in_stock_or_of(*, lot_id: int) -> QuerySet[LotBalance]:
    return _balances(in_stock_or(lot_id))


@compiled_once()
def _balance_locations() -> QuerySet[LotBalance, str]:
    return LotBalance.objects.order_by("location").values_list("location", flat=True).distinct()


def ledger_balances(*, lot_id: int | None = None) -> LedgerBalances:
    """The balances in stock with every balance of `lot_id` (the lot the page's filter asks for, whether or not the
    rest of the filter holds), and every location a balance is held at (the filter offers each)."""
    rows = _balances_in_stock_or_of(lot_id=lot_id) if lot_id else _balances_in_stock()
    return LedgerBalances(lot_id=lot_id, locations=_balance_locations(), rows=rows)


@compiled_once()
def ledger_locations() -> QuerySet[Location]:
    """Every location, by name, as the ledger page's forms offer them: compiled once a process (issue 19)."""
    return Location.objects.all()


def doses_to_waste_since(since: datetime.datetime) -> QuerySet[DoseRecord]:
    """The doses given since `since`, newest first, which a waste may be recorded against."""
    return DoseRecord.objects.filter(administered_at__gte=since).select_related("lot").order_by("-administered_at")


@compiled_once(since=datetime.datetime)
def dose_labels_since(
    *, since: datetime.datetime
) -> QuerySet[DoseRecord, tuple[int, datetime.datetime | None, Decimal | None, str]]:
    """The four columns of doses_to_waste_since that label a dose on the ledger page (id, time given, dose, lot
    number), compiled once a process (issue 19)."""
    return doses_to_waste_since(since).values_list("pk", "administered_at", "dose_mg", "lot__lot_number")


@dataclass(frozen=True)
class LedgerWindow:
    """One window of entries, newest first, with the entries either side of it named by id: the page reads the
    window from a position in the log (`older_than` or `newer_than` an entry) rather than by page number, which
    made the database count every entry and step over all those before the page."""

    rows: list[LedgerRow]
    newer_than: int | None = None  # the first entry's id, when newer entries exist
    older_than: int | None = None  # the last entry's id, when older entries exist
    signing_staff: tuple[User, ...] = ()  # those who may sign an entry now, by name, when asked for


@compiled_once(entry_id=int)
def _entry_position(*, entry_id: int) -> QuerySet[LedgerEntry, tuple[int, datetime.datetime]]:
    """An entry's place in the log (its id and time), as `.first()` reads it, compiled once a process."""
    return LedgerEntry.objects.filter(pk=entry_id).values_list("pk", "recorded_at")[:1]


# The types of LedgerFilter.bounds' values, and of the entry a window is read from, as placeholders of the window.
_WINDOW_PLACEHOLDERS = {
    "location": str,
    "lot_id": int,
    "recorded_from": datetime.datetime,
    "recorded_before": datetime.datetime,
    "anchor_id": int,
    "anchor_at": datetime.datetime,
}
_window_reads: dict[frozenset[str], CompiledRead[LedgerEntry]] = {}


def _window(
    direction: str,
    limit: int,
    *,
    anchor_id: int | None = None,
    anchor_at: datetime.datetime | None = None,
    **bounds: Any,
) -> QuerySet[LedgerEntry]:
    """Up to `limit` entries under the bounds: `older` or `newer` than the anchor entry (its id and time), or the
    `newest`; the newer ones come oldest first."""
    entries = _as_logged_window(_entries_within(**bounds))
    if direction == "older":
        entries = entries.filter(Q(recorded_at__lt=anchor_at) | Q(recorded_at=anchor_at, pk__lt=anchor_id))
    elif direction == "newer":
        entries = entries.filter(Q(recorded_at__gt=anchor_at) | Q(recorded_at=anchor_at, pk__gt=anchor_id))
    order = ("recorded_at", "id") if direction == "newer" else ("-recorded_at", "-id")
    return entries.order_by(*order)[:limit]


def _window_read(direction: str, **values: Any) -> list[LedgerEntry]:
    """_window, compiled once for each set of filters given (each a read of its own, as a filter not given is not
    in the SQL) and each direction: compiling it took more time than the database took to answer (issue 19)."""
    names = frozenset(values)
    read = _window_reads.get(names)
    if read is None:
        placeholders = {name: _WINDOW_PLACEHOLDERS[name] for name in sorted(names)}
        read = _window_reads.setdefault(names, compiled_once(**placeholders)(_window))
    # A page and one, to tell whether there are more; the page's size is a key, as it is written into the SQL.
    return read(direction, LEDGER_PAGE_SIZE + 1, **values)


def _entries_window(
    filters: LedgerFilter, *, older_than: int | None = None, newer_than: int | None = None
) -> tuple[list[LedgerEntry], bool, bool]:
    """Up to LEDGER_PAGE_SIZE entries under the filters, newest first, and whether newer and older ones exist. An id
    that names no entry, and a window with no full page of newer entries, give the newest page."""
    bounds = filters.bounds()
    anchor_id = older_than or newer_than
    anchor = next(iter(_entry_position(entry_id=anchor_id)), None) if anchor_id else None
    if anchor is not None:
        pk, at = anchor
        if older_than:
            window = _window_read("older", anchor_id=pk, anchor_at=at, **bounds)
            return window[:LEDGER_PAGE_SIZE], True, len(window) > LEDGER_PAGE_SIZE
        window = _window_read("newer", anchor_id=pk, anchor_at=at, **bounds)
        if len(window) > LEDGER_PAGE_SIZE:
            return window[:LEDGER_PAGE_SIZE][::-1], True, True
    window = _window_read("newest", **bounds)
    return window[:LEDGER_PAGE_SIZE], False, len(window) > LEDGER_PAGE_SIZE


def ledger(
    *,
    user: User,
    filters: LedgerFilter | None = None,
    older_than: str | None = None,
    newer_than: str | None = None,
    signing_roles: frozenset[str] = frozenset(),
) -> LedgerWindow:
    """One window of entries (newest first) under the filters, from the position `older_than` or `newer_than` an
    entry id (the newest without either), with the staff of `signing_roles` who may sign an entry now (the page's
    forms offer them) read with the entries' signers. The balances come from ledger_balances."""
    filters = filters or LedgerFilter()
    entries, has_newer, has_older = _entries_window(
        filters, older_than=row_id(older_than), newer_than=row_id(newer_than)
    )
    signers, signing_staff = _signers_and_signing_staff(entries, signing_roles)
    return LedgerWindow(
        _ledger_rows(user, entries, signers),
        newer_than=entries[0].pk if entries and has_newer else None,
        older_than=entries[-1].pk if entries and has_older else None,
        signing_staff=tuple(signing_staff),
    )


def ledger_export_rows(*, user: User, filters: LedgerFilter) -> list[LedgerRow]:
    """Every entry under the filters, oldest first, for a CSV or PDF export of any period."""
    entries = list(_ledger_entries(filters).select_related("receipt").order_by("recorded_at", "id"))
    signers, _ = _signers_and_signing_staff(entries, frozenset())
    return _ledger_rows(user, entries, signers)


@compiled_once()
def _open_discrepancies() -> QuerySet[LedgerEntry]:
    """open_discrepancies' query, which takes nothing from the caller: compiled once a process, as building its two
    subqueries took longer than running it. Each subquery asks for the first id of a later count or a correction and
    takes none for "there is none": written as NOT EXISTS, PostgreSQL turned them into joins of the log to itself,
    which took it twice as long to plan (about 0.7 ms to 0.35 ms, issue 19) as the subqueries it runs for each count
    that did not match."""
    counts = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.COUNT)
    later_count = counts.filter(lot=OuterRef("lot"), location=OuterRef("location")).filter(
        Q(recorded_at__gt=OuterRef("recorded_at")) | Q(recorded_at=OuterRef("recorded_at"), pk__gt=OuterRef("pk"))
    )
    correction = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CORRECTION, corrects=OuterRef("pk"))
    return (
        counts.exclude(discrepancy_mg__isnull=True)
        .exclude(discrepancy_mg=0)
        .alias(
            later_count_id=Subquery(later_count.order_by().values("pk")[:1]),
            correction_id=Subquery(correction.order_by().values("pk")[:1]),
        )
        .filter(later_count_id__isnull=True, correction_id__isnull=True)
        .select_related("lot")
        .order_by("recorded_at", "pk")
    )


def open_discrepancies() -> list[LedgerEntry]:
    """The latest count of each lot and location, where it did not match the balance and no correction names it.

    One query on the partial index of counts (ledger_latest_count): a count is the latest when no count of the
    same lot and location follows it, so the read stays the size of the open discrepancies, not of the log."""
    return _open_discrepancies()


@compiled_once()
def _loss_reports_waiting() -> QuerySet[LossReport]:
    """loss_reports_waiting's query, compiled once a process as _open_discrepancies is. Read with the discrepancy and
    its lot the ledger page names, not the responsible prescriber it does not: the user's columns took longer to
    compile than the read took to run (issue 19)."""
    return (
        LossReport.objects.filter(Q(form106_submitted_on__isnull=True) | Q(state_notified_on__isnull=True))
        .select_related("discrepancy__lot")
        .order_by("form106_due_on", "pk")
    )


def loss_reports_waiting() -> list[LossReport]:
    return _loss_reports_waiting()


def loss_report_get(*, report_id: int) -> LossReport:
    """One loss report with the count it reports and the prescriber responsible for it, for the log's keepers
    (LEDGER_ROLES, checked by the view); 404 when there is none."""
    report = LossReport.objects.select_related("discrepancy__lot", "responsible").filter(pk=report_id).first()
    if report is None:
        raise Http404("No such loss report.")
    return report


@compiled_once(horizon=datetime.date)
def _registrations_expiring_by(*, horizon: datetime.date) -> QuerySet[Registration]:
    return Registration.objects.filter(expires_on__lte=horizon).order_by("expires_on")


@compiled_once()
def _registrations() -> QuerySet[Registration]:
    return Registration.objects.prefetch_related("locations").select_related("responsible")


def registrations_listed() -> list[Registration]:
    """The practice's DEA registrations with their locations and responsible prescriber (the registrations page)."""
    return _registrations()


def registrations_expiring(*, today: datetime.date | None = None) -> list[Registration]:
    """Registrations expired or expiring within the warning period (the staff home warns of them)."""
    today = today or timezone.localdate()
    horizon = today + datetime.timedelta(days=ledger_rules.warn_days_before_expiry())
    return _registrations_expiring_by(horizon=horizon)


@dataclass(frozen=True)
class InventoryDue:
    """A stock location whose next inventory is due soon or overdue (due_on), or that has no initial inventory
    (last_taken_on and due_on None)."""

    location: Location
    last_taken_on: datetime.date | None
    due_on: datetime.date | None
    overdue: bool  # due_on has passed on the day asked


@compiled_once()
def _locations_with_last_inventory() -> QuerySet[Location]:
    # Only the initial and biennial inventories start the two years again: an ad-hoc count does not (1304.11(c)).
    required = Q(inventories__kind__in=[Inventory.Kind.INITIAL, Inventory.Kind.BIENNIAL])
    return Location.objects.annotate(last_taken_on=Max("inventories__taken_on", filter=required)).order_by("name")


def inventories_due(*, today: datetime.date | None = None) -> list[InventoryDue]:
    """Locations without an initial inventory (21 CFR 1304.11(b)), and those whose biennial inventory
    (1304.11(c)) falls due within the warning period or is overdue, soonest first (the staff home and the log warn of
    them)."""
    today = today or timezone.localdate()
    horizon = today + datetime.timedelta(days=ledger_rules.warn_days_before_inventory_due())
    due = []
    for location in _locations_with_last_inventory():
        last = location.last_taken_on  # type: ignore[attr-defined]
        due_on = ledger_rules.next_inventory_due_on(last) if last else None
        if due_on is None or due_on <= horizon:
            overdue = due_on is not None and due_on < today
            due.append(InventoryDue(location=location, last_taken_on=last, due_on=due_on, overdue=overdue))
    return sorted(due, key=lambda item: (item.due_on is not None, item.due_on or today, item.location.name))


@dataclass(frozen=True)
class LedgerDifference:
    lot: SubstanceLot
    location: str
    entry_id: int | None
    message: str


def ledger_differences() -> list[LedgerDifference]:
    """Recomputes every balance from the entries: each entry's balance after it must be the running sum of the
    changes before it, each count's discrepancy the count less that balance, and the stored balance the last."""
    differences = []
    running: defaultdict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for entry in LedgerEntry.objects.select_related("lot").order_by("recorded_at", "id").iterator():
        key = (entry.lot_id, entry.location)
        running[key] += entry.change_mg
        if entry.balance_after_mg != running[key]:
            differences.append(
                LedgerDifference(
                    entry.lot,
                    entry.location,
                    entry.pk,
                    f"entry #{entry.pk} records a balance of {written_quantity(entry.balance_after_mg)} mg; the "
                    f"entries add up to {written_quantity(running[key])} mg",
                )
            )
            running[key] = entry.balance_after_mg
        if entry.kind == LedgerEntry.Kind.COUNT and entry.counted_mg is not None:
            expected = entry.counted_mg - entry.balance_after_mg
            if entry.discrepancy_mg != expected:
                differences.append(
                    LedgerDifference(
                        entry.lot,
                        entry.location,
                        entry.pk,
                        f"count #{entry.pk} records a discrepancy of {written_quantity(entry.discrepancy_mg)} mg; it "
                        f"is {written_quantity(expected)} mg",
                    )
                )
    for balance in LotBalance.objects.select_related("lot"):
        key = (balance.lot_id, balance.location)
        if balance.balance_mg != running.get(key, Decimal("0")):
            differences.append(
                LedgerDifference(
                    balance.lot,
                    balance.location,
                    None,
                    f"the balance of {balance.lot} at {balance.location} is {written_quantity(balance.balance_mg)} "
                    f"mg; the entries add up to {written_quantity(running.get(key, Decimal('0')))} mg",
                )
            )
    return differences


# --- readiness ahead of the day ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdvanceReadiness:
    """One patient's readiness for a dosing session, read before its day: what DoseReadiness can already know at the
    session's start (the enrolment gate, the weekly spacing, suicide-risk alerts needing a same-day assessment, new
    medicines waiting for review), with the day's own checks left to the room, except what the record must hold
    by then: the childbearing-potential record (without it a negative test is needed on the day whatever the
    patient says) and a ceiling for the route the patient was last ordered (without it no order is accepted)."""

    patient: Patient
    dose: DoseReadiness
    pregnancy_problem: str = ""
    route_problem: str = ""

    @property
    def reasons(self) -> list[str]:
        refusals = (
            self.dose.gate_refusal,
            self.dose.spacing_refusal,
            self.dose.same_day_refusal,
            self.dose.observation_refusal,
            self.dose.vitals_refusal,
            self.dose.risk_refusal,
            self.dose.safety_review_refusal,
            self.dose.allergy_refusal,
            self.dose.medication_refusal,
            self.pregnancy_problem,
            self.route_problem,
        )
        return [refusal for refusal in refusals if refusal]

    @property
    def ready(self) -> bool:
        return not self.reasons


@dataclass(frozen=True)
class SessionReadiness:
    session: GroupSession
    patients: list[AdvanceReadiness]

    @property
    def ready_count(self) -> int:
        return sum(1 for patient in self.patients if patient.ready)

    @property
    def blocked_count(self) -> int:
        return len(self.patients) - self.ready_count


def _route_problems(patient_ids: list[int], limits: Limits) -> dict[int, str]:
    """Each patient whose last ordered route has no ceiling: the order on the day would be refused."""
    last_route = {}
    for patient_id, route in (
        DoseRecord.objects.filter(patient_id__in=patient_ids)
        .exclude(route="")
        .order_by("ordered_at", "pk")
        .values_list("patient_id", "route")
    ):
        last_route[patient_id] = route
    problems = {}
    for patient_id, route in last_route.items():
        key = safety.ceiling_key(route)
        if limits.get(key) is None:
            problems[patient_id] = (
                f"Last ordered {Route(route).label}, and the practice has no ceiling for that route, so no such order "
                f"is accepted until it is set: {setting_named_for_staff(f'dosing.{key}')}."
            )
    return problems


def _advance_pregnancy(patient: Patient, record: DoseRecord | None, dose: DoseReadiness) -> str:
    """A test already recorded for the session is read as the room reads it; otherwise only the record's
    childbearing potential can be checked ahead of the day."""
    if record is not None and record.pregnancy_test:
        return dose.pregnancy_refusal
    if patient.childbearing_potential == ChildbearingPotential.NOT_RECORDED:
        return (
            "Pregnancy: the patient record does not say whether the patient could become pregnant; a clinician "
            "records it on the patient's page (without it the room needs a negative test on the day)."
        )
    return ""


def _readiness_of_sessions(sessions: list[GroupSession]) -> list[SessionReadiness]:
    enrolled = Enrolment.objects.filter(
        group__in={session.group_id for session in sessions},
        status__in=[Enrolment.Status.ENROLLED, Enrolment.Status.COMPLETED],
    ).select_related("patient")
    members = defaultdict(list)
    for enrolment in enrolled.order_by("patient__family_name", "patient__given_name", "patient_id"):
        members[enrolment.group_id].append(enrolment.patient)
    records = {
        (record.session_id, record.patient_id): record
        for record in DoseRecord.objects.filter(session__in=sessions).prefetch_related(
            Prefetch("vitals", queryset=VitalsReading.objects.order_by("taken_at", "id")),
            Prefetch("risk_assessments", queryset=RoomRiskAssessment.objects.select_related("recorded_by")),
        )
    }
    settings = room_settings()
    limits = settings.limits
    cases = [
        (patient, session.starts_at, records.get((session.pk, patient.pk)))
        for session in sessions
        for patient in members[session.group_id]
    ]
    routes = _route_problems(list({patient.pk for patient, _, _ in cases}), limits)
    readiness = iter(_readiness(cases, settings=settings))
    result = []
    for session in sessions:
        patients = []
        for patient in members[session.group_id]:
            dose = next(readiness)
            patients.append(
                AdvanceReadiness(
                    patient=patient,
                    dose=dose,
                    pregnancy_problem=_advance_pregnancy(patient, records.get((session.pk, patient.pk)), dose),
                    route_problem=routes.get(patient.pk, ""),
                )
            )
        result.append(SessionReadiness(session, patients))
    return result


def sessions_readiness_on(*, day: datetime.date) -> list[SessionReadiness]:
    """Every dosing session starting on `day` (practice time), each patient ready or blocked with every reason known
    now. For the command line (`kapstone session readiness`): audited as a read of every patient listed."""
    sessions = list(
        GroupSession.objects.filter(kind=GroupSession.Kind.DOSING, starts_at__date=day)
        .select_related("group", "room")
        .prefetch_related("facilitators")
        .order_by("starts_at", "pk")
    )
    readiness = _readiness_of_sessions(sessions)
    audit.record(
        action=audit.Action.READ,
        object_type="dosing_readiness",
        object_id=day.isoformat(),
        detail={"patient_ids": sorted({p.patient.pk for s in readiness for p in s.patients})},
    )
    return readiness


def session_readiness_counts(session: GroupSession) -> SessionReadiness:
    """One session's readiness for its digest, which carries counts only (no patient is named, so it is no read of
    a patient's record)."""
    return _readiness_of_sessions([session])[0]
