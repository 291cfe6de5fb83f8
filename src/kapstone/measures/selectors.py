"""Reads for measurement-based care. Staff reach patients only through the care-team filter
(patients.selectors); patients reach only their own record. Reads of identified data are audited."""

from __future__ import annotations

import datetime
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KT
from django.http import Http404
from django.utils import timezone

if TYPE_CHECKING:
    # Only for the annotations reminders_due adds: the package is a development dependency.
    from django_stubs_ext import WithAnnotations

from kapstone import bibliography
from kapstone.accounts.fields import STAFF_LABEL_FIELDS
from kapstone.accounts.models import DISPLAY_NAME_FIELDS, User
from kapstone.accounts.roles import CLINICAL_ROLES, Role
from kapstone.audit import services as audit
from kapstone.built_once import built_once_per_user
from kapstone.compiled_once import compiled_once
from kapstone.measures.change import baseline_sample_minimum, classify_change
from kapstone.measures.models import (
    SUICIDE_RISK,
    AlertOccurrence,
    Assessment,
    CriticalAlert,
    PracticeBaseline,
    ReminderLog,
    UrineToxicology,
    alert_kind_label,
)
from kapstone.measures.portal_settings import portal_setting
from kapstone.measures.scoring import (
    Instrument,
    ScoringError,
    get_instrument,
    instruments_patients_can_answer,
    list_instruments,
)
from kapstone.patients.models import Patient
from kapstone.patients.selectors import patient_visible_to
from kapstone.practice.settings_store import practice_overrides, practice_overrides_of
from kapstone.practice.signals import SAFETY_EVENT_KINDS
from kapstone.untrusted import row_id

ALERTS_PER_PAGE = 100
DUE_ON_HOME = 10


def instrument_settings(instrument_id: str) -> dict[str, Any]:
    """The practice's own values for one instrument's settings, stored under `measures.<instrument id>.<name>`
    (e.g. measures.pcl5.provisional_ptsd_cutoff). The scorer fills in the cited defaults and checks each."""
    return practice_overrides(f"measures.{instrument_id}")


def stored_answers(*, assessment: Assessment) -> dict[int, int]:
    """The answers saved on a questionnaire, by item number (stored as JSON, so keyed by strings)."""
    return {int(number): value for number, value in (assessment.answers or {}).items()}


# Who sees an alert about the practice itself (a controlled-substance count, no patient): the roles that keep
# the controlled-substance log (dosing.selectors.LEDGER_ROLES, which measures, below dosing, cannot import).
PRACTICE_ALERT_ROLES = frozenset({Role.ADMIN, Role.PRESCRIBER, Role.NURSE})


def open_suicide_risk_alerts(*, patient_id: int, since: datetime.datetime | None = None) -> list[CriticalAlert]:
    """The patient's suicide-risk alerts nobody has acknowledged yet, oldest first; with `since`, only those a
    questionnaire raised or joined at or after it (a dose). Read for a decision about the patient (an enrolment, a
    discharge) by staff already allowed to make it, so not filtered by a viewer's care team."""
    alerts = CriticalAlert.objects.filter(patient_id=patient_id, kind=SUICIDE_RISK, acknowledged_at__isnull=True)
    if since is not None:
        alerts = alerts.filter(occurrences__at__gte=since).distinct()
    return list(alerts.order_by("raised_at", "id"))


def _visible_alerts(user: User) -> QuerySet[CriticalAlert]:
    mine = patient_visible_to(user)
    if user.role in PRACTICE_ALERT_ROLES:
        mine |= Q(patient__isnull=True)
    return CriticalAlert.objects.filter(mine).select_related("patient", "assessment", "acknowledged_by")


@built_once_per_user
def _open_alerts_visible_to(user: User) -> QuerySet[CriticalAlert]:
    """open_alerts_for's query: building its care-team test took longer than running it (issue 19)."""
    # Only what the home's list writes: the whole alert, assessment and acknowledger were a third of the columns
    # Django compiles for the page (issue 19).
    return (
        _visible_alerts(user)
        .filter(acknowledged_at__isnull=True)
        .select_related(None)
        .select_related("patient")
        .only("kind", "priority", "patient__given_name", "patient__family_name", "reason", "raised_at")
        .order_by("-priority", "raised_at", "id")
    )


@compiled_once()
def _first_open_alerts(user: User, limit: int) -> QuerySet[CriticalAlert]:
    return _open_alerts_visible_to(user)[:limit]


def open_alerts_for(user: User, *, limit: int = ALERTS_PER_PAGE) -> list[CriticalAlert]:
    """Unacknowledged alerts this user may see, highest priority first, then the longest waiting (staff home)."""
    alerts = _first_open_alerts(user, limit)
    if alerts:
        audit.record(
            action=audit.Action.READ,
            object_type="critical_alert_list",
            detail={
                "alert_ids": [a.pk for a in alerts],
                "patient_ids": sorted({a.patient_id for a in alerts if a.patient_id is not None}),
            },
        )
    return alerts


def _cited(spec: dict[str, Any]) -> str:
    """A number's source for the clinician: its bibliography ids written out as full references."""
    return bibliography.describe(spec["source"]) if spec.get("source") else "source not recorded"


@dataclass(frozen=True)
class QueueFilters:
    """The queue's filters, read from the query string; anything unknown is ignored rather than refused, so a
    stale bookmark still opens the queue."""

    priority: int | None = None
    kind: str = ""
    staff_id: int | None = None
    show_acknowledged: bool = False

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> QueueFilters:
        priority = query.get("level", "")
        staff = query.get("staff", "")
        kind = query.get("kind", "")
        return cls(
            priority=level if (level := row_id(priority)) in CriticalAlert.Priority.values else None,
            kind=kind if kind in alert_kinds() else "",
            staff_id=row_id(staff),
            show_acknowledged=query.get("show") == "all",
        )


def alert_kinds() -> dict[str, str]:
    return {SUICIDE_RISK: alert_kind_label(SUICIDE_RISK)} | {
        kind: alert_kind_label(kind) for kind in SAFETY_EVENT_KINDS
    }


@built_once_per_user
def _queue_alerts_visible_to(user: User) -> QuerySet[CriticalAlert]:
    """alert_queue's query before its filters: building its care-team test took longer than running it, and of the
    alert, its patient, questionnaire and acknowledger only what the queue writes, where every column of all four
    was read (issue 19)."""
    return _visible_alerts(user).only(
        "kind",
        "priority",
        "raised_at",
        "reason",
        "acknowledged_at",
        "acknowledgement_note",
        "acknowledgement_finding",
        "finding_corrected_at",
        "finding_correction_reason",
        "patient__given_name",
        "patient__family_name",
        "assessment__total",
        *(f"acknowledged_by__{name}" for name in DISPLAY_NAME_FIELDS),
    )


def alert_queue(
    *, user: User, filters: QueueFilters | None = None, show_acknowledged: bool = False
) -> list[CriticalAlert]:
    """The one queue: open alerts by priority (high, urgent, review), then the longest waiting first; with
    show_acknowledged, the acknowledged ones follow, newest first."""
    filters = filters or QueueFilters(show_acknowledged=show_acknowledged)
    if filters == QueueFilters(show_acknowledged=filters.show_acknowledged):
        listed = _unfiltered_queue(user, filters.show_acknowledged)
    else:
        listed = list(_queue_page(_queue_alerts_visible_to(user), filters))
    audit.record(
        action=audit.Action.READ,
        object_type="critical_alert_list",
        detail={
            "alert_ids": [a.pk for a in listed],
            "acknowledged_shown": filters.show_acknowledged,
            "patient_ids": sorted({a.patient_id for a in listed if a.patient_id is not None}),
        },
    )
    return listed


def _queue_page(alerts: QuerySet[CriticalAlert], filters: QueueFilters) -> QuerySet[CriticalAlert]:
    if not filters.show_acknowledged:
        alerts = alerts.filter(acknowledged_at__isnull=True)
    if filters.priority is not None:
        alerts = alerts.filter(priority=filters.priority)
    if filters.kind:
        alerts = alerts.filter(kind=filters.kind)
    if filters.staff_id is not None:
        alerts = alerts.filter(patient__care_team_memberships__staff_id=filters.staff_id)
    return alerts.order_by(F("acknowledged_at").desc(nulls_first=True), "-priority", "raised_at", "id")[
        :ALERTS_PER_PAGE
    ]


@compiled_once()
def _unfiltered_queue(user: User, show_acknowledged: bool) -> QuerySet[CriticalAlert]:
    """The queue as it first opens, compiled once for each user: its care-team test took longer to compile than to
    run (issue 19)."""
    return _queue_page(_queue_alerts_visible_to(user), QueueFilters(show_acknowledged=show_acknowledged))


def alert_filter_staff() -> list[User]:
    """The clinicians the queue can be filtered by (alerts of the patients on their care team)."""
    # Only what staff_label writes, not the whole account (issue 19).
    return list(
        get_user_model()
        .objects.filter(role__in=CLINICAL_ROLES, is_active=True)
        .only(*STAFF_LABEL_FIELDS)
        .order_by("last_name", "first_name")
    )


def alert_get(*, user: User, alert_id: int | str) -> CriticalAlert:
    try:
        return _visible_alerts(user).get(pk=int(alert_id))
    except (CriticalAlert.DoesNotExist, ValueError, TypeError):
        raise Http404("No such alert.") from None


def alert_history(*, alert: CriticalAlert) -> list[AlertOccurrence]:
    """What raised or joined an alert the caller already reached through alert_get."""
    return list(alert.occurrences.select_related("assessment"))


@built_once_per_user
def _open_assessments_visible_to(user: User) -> QuerySet[Assessment]:
    """due_assessments_for's query without the time: building its care-team test took longer than running it
    (issue 19). The care team is tested per row (patient_visible_to) on the few open questionnaires already due,
    where `patient__in` joined every patient to their care team: PostgreSQL took longer to plan that (issue 19)."""
    return (
        Assessment.objects.filter(patient_visible_to(user), status__in=Assessment.OPEN_STATUSES)
        .select_related("patient")
        # The columns the home's list writes, not the whole questionnaire and patient (issue 19).
        .only("instrument_id", "occasion", "occasion_label", "due_at", "patient__given_name", "patient__family_name")
        .order_by("due_at", "pk")
    )


@compiled_once(now=datetime.datetime)
def _first_due_assessments(user: User, limit: int, *, now: datetime.datetime) -> QuerySet[Assessment]:
    return _open_assessments_visible_to(user).filter(due_at__lte=now)[:limit]


def due_assessments_for(user: User, *, limit: int = DUE_ON_HOME) -> list[Assessment]:
    """Open questionnaires already due for the user's patients, oldest first (for the staff home). Those the
    patient cannot answer in the portal (Assessment.patient_can_answer) are the care team's to complete with
    the patient."""
    due = _first_due_assessments(user, limit, now=timezone.now())
    if due:
        audit.record(
            action=audit.Action.READ,
            object_type="due_assessment_list",
            detail={"patient_ids": sorted({a.patient_id for a in due})},
        )
    return due


# --- one patient's measures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BaselineSample:
    """The practice's pre-treatment sample for one instrument: each patient's first completed total."""

    n: int
    sd: float | None  # the sample SD (n - 1 in the denominator); None below two baselines
    minimum_n: int

    @property
    def usable(self) -> bool:
        """Large enough for the Jacobson & Truax index, and with some spread (an SD of 0 gives no S_diff)."""
        return self.n >= self.minimum_n and bool(self.sd)


def _first_completed_totals(instrument_id: str) -> QuerySet[Assessment]:
    return Assessment.objects.filter(
        instrument_id=instrument_id, status=Assessment.Status.COMPLETED, total__isnull=False
    ).order_by("completed_at", "pk")


def first_total(*, patient_id: int, instrument_id: str) -> float | None:
    """The patient's first completed total on the instrument: their member of the practice's baseline sample."""
    return _first_completed_totals(instrument_id).filter(patient_id=patient_id).values_list("total", flat=True).first()


def first_totals(*, instrument_id: str) -> dict[int, float]:
    """Every patient's first completed total on the instrument, by patient id: the whole baseline sample."""
    # Each patient's first total is picked in the database (one index lookup per patient), so the sample is one
    # number per patient rather than every questionnaire of the practice.
    first = _first_completed_totals(instrument_id).filter(patient_id=OuterRef("pk")).values("total")[:1]
    return dict(
        Patient.objects.annotate(baseline=Subquery(first)).filter(baseline__isnull=False).values_list("pk", "baseline")
    )


def sample_sd(totals: list[float]) -> float | None:
    """The sample SD (n - 1 in the denominator); None below two totals."""
    return statistics.stdev(totals) if len(totals) >= 2 else None


def practice_baseline_sample(instrument: Instrument, settings: dict[str, Any]) -> BaselineSample | None:
    """The SD of the practice's own baselines, for instruments whose change rules take it; None otherwise.

    It is an aggregate over every patient of the practice, not a read of anyone's record, so it is not limited
    to the caller's care team: a clinician's view of reliable change must not depend on who is on their list.
    One row, kept by the services that write totals (models.PracticeBaseline), so a chart costs one lookup however
    large the practice; computed from the questionnaires only while the instrument has no row yet."""
    minimum = baseline_sample_minimum(instrument, settings)
    if minimum is None:
        return None
    stored = PracticeBaseline.objects.filter(instrument_id=instrument.id).values_list("n", "sd").first()
    return _baseline_sample(instrument, minimum, stored)


def _baseline_sample(instrument: Instrument, minimum: int, stored: tuple[int, float | None] | None) -> BaselineSample:
    """The sample from its stored row, or from the questionnaires while the instrument has no row yet."""
    if stored is not None:
        n, sd = stored
    else:
        baselines = list(first_totals(instrument_id=instrument.id).values())
        n, sd = len(baselines), sample_sd(baselines)
    return BaselineSample(n=n, sd=sd, minimum_n=minimum)


@dataclass
class Trajectory:
    """One instrument's completed totals for one patient, with change against the first (baseline) total."""

    instrument: Instrument
    points: list[Assessment] = field(default_factory=list)
    changes: list[dict[str, Any] | None] = field(default_factory=list)
    baseline_sample: BaselineSample | None = None
    settings_error: str = ""  # a practice setting for this instrument that the scorer refuses

    @property
    def baseline(self) -> Assessment:
        return self.points[0]

    @property
    def rows(self) -> list[tuple[Assessment, dict[str, Any] | None]]:
        return list(zip(self.points, self.changes, strict=True))

    @property
    def latest_change(self) -> dict[str, Any] | None:
        return self.changes[-1] if len(self.points) > 1 else None

    @property
    def reliable_change_note(self) -> str:
        """Which method judged reliable change here, with its numbers and sources, for the clinician."""
        reliable = (self.instrument.definition.get("change") or {}).get("reliable_change") or {}
        reliability = reliable.get("reliability") or {}
        threshold = reliable.get("fixed_threshold") or {}
        change = next((c for c in reversed(self.changes) if c), None)
        if change is None:
            return ""
        method = change["reliable_change_method"]
        sample = self.baseline_sample
        if method == "jacobson_truax" and sample is not None and sample.usable:
            return (
                f"Jacobson & Truax (1991) index: SD {sample.sd:.2f} from the practice's baseline sample "
                f"(N = {sample.n} patients, each patient's first total), reliability {change['reliability']} "
                f"({_cited(reliability)}); reliable when |RCI| > 1.96."
            )
        if method == "fixed_threshold":
            note = (
                f"Fixed threshold: a change of at least {change['reliable_change_threshold']:g} points "
                f"({_cited(threshold)})."
            )
            if sample is not None:
                shortfall = "all the same total" if sample.n >= sample.minimum_n else f"N = {sample.n}"
                note += (
                    f" The Jacobson & Truax (1991) index (reliability {reliability.get('value')}, "
                    f"{_cited(reliability)}) is used once the practice's baseline "
                    f"sample reaches N = {sample.minimum_n} with some spread; it has {shortfall}."
                )
            return note
        if method == "jacobson_truax":
            return f"Jacobson & Truax (1991) index, RCI {change['rci']}; reliable when |RCI| > 1.96."
        return ""


def _change(
    instrument: Instrument,
    baseline: float,
    follow_up: float,
    *,
    sample: BaselineSample | None,
    settings: dict[str, Any],
) -> dict[str, Any] | None:
    if not instrument.definition.get("change"):
        return None
    sd = sample.sd if sample is not None and sample.usable else None
    try:
        return classify_change(instrument.id, baseline, follow_up, sd=sd, settings=settings)
    except ScoringError:
        return None


@dataclass(frozen=True)
class ChangeRule:
    """How change is judged for one instrument at this practice: its settings and, where it takes one, the SD of
    the practice's baseline sample. The patient's chart and the outcomes report both classify through this, so they
    can never disagree on reliable change."""

    instrument: Instrument
    settings: dict[str, Any]
    baseline_sample: BaselineSample | None

    def classify(self, baseline: float, follow_up: float) -> dict[str, Any] | None:
        return _change(self.instrument, baseline, follow_up, sample=self.baseline_sample, settings=self.settings)


def change_rule(instrument: Instrument) -> ChangeRule:
    """The practice's change rule for an instrument; raises ScoringError when a practice setting for it is refused."""
    settings = instrument.resolve_settings(instrument_settings(instrument.id))
    return ChangeRule(instrument, settings, practice_baseline_sample(instrument, settings))


def change_rules(instruments: list[Instrument]) -> dict[str, ChangeRule | ScoringError]:
    """change_rule of each instrument, or the ScoringError it raises, by instrument id: the settings of all of them
    from one read and their stored baseline samples from another, where a page charting several instruments read
    both once per instrument (issue 19)."""
    if not instruments:
        return {}
    overrides = practice_overrides_of(*(f"measures.{instrument.id}" for instrument in instruments))
    rules: dict[str, ChangeRule | ScoringError] = {}
    minimums: dict[str, tuple[dict[str, Any], int | None]] = {}
    for instrument in instruments:
        try:
            settings = instrument.resolve_settings(overrides[f"measures.{instrument.id}"])
            minimums[instrument.id] = (settings, baseline_sample_minimum(instrument, settings))
        except ScoringError as error:
            rules[instrument.id] = error
    sampled = [instrument_id for instrument_id, (_, minimum) in minimums.items() if minimum is not None]
    stored: dict[str, tuple[int, float | None]] = (
        {
            instrument_id: (n, sd)
            for instrument_id, n, sd in PracticeBaseline.objects.filter(instrument_id__in=sampled).values_list(
                "instrument_id", "n", "sd"
            )
        }
        if sampled
        else {}
    )
    for instrument in instruments:
        if instrument.id in rules:
            continue
        settings, minimum = minimums[instrument.id]
        sample = None if minimum is None else _baseline_sample(instrument, minimum, stored.get(instrument.id))
        rules[instrument.id] = ChangeRule(instrument, settings, sample)
    return rules


def trajectories(assessments: list[Assessment]) -> list[Trajectory]:
    """Groups completed assessments (oldest first) by instrument; the first of each is the baseline. Change is
    judged with the practice's settings and, where the instrument takes it, its baseline sample's SD."""
    by_instrument: dict[str, Trajectory] = {}
    for assessment in assessments:
        if assessment.total is None:
            continue
        trajectory = by_instrument.get(assessment.instrument_id)
        if trajectory is None:
            try:
                trajectory = by_instrument[assessment.instrument_id] = Trajectory(
                    get_instrument(assessment.instrument_id)
                )
            except ScoringError:
                continue
        trajectory.points.append(assessment)
    rules = change_rules(
        [t.instrument for t in by_instrument.values() if len(t.points) > 1 and t.instrument.definition.get("change")]
    )
    for trajectory in by_instrument.values():
        instrument = trajectory.instrument
        base = trajectory.baseline.total
        trajectory.changes = [None for _ in trajectory.points]
        if instrument.id in rules:
            rule = rules[instrument.id]
            if isinstance(rule, ScoringError):
                trajectory.settings_error = f"Change is not classified until the practice setting is fixed: {rule}"
                continue
            trajectory.baseline_sample = rule.baseline_sample
            # Every point has a total: points without one were skipped above.
            trajectory.changes = [None, *(rule.classify(base, p.total) for p in trajectory.points[1:])]  # type: ignore[arg-type]
    return sorted(by_instrument.values(), key=lambda t: t.instrument.short_name)


# What the portal's history charts and tabulates of each completed questionnaire (trajectories groups them by
# instrument): not the answers and scoring result, whose JSON decoding was a share of the page, nor who entered it
# and the rest of the row, which it never shows (issue 19).
HISTORY_COLUMNS = ("instrument_id", "completed_at", "total", "severity")


def completed_assessments(patient: Patient) -> list[Assessment]:
    """The patient's completed questionnaires, oldest first, with what the portal's history shows of them
    (HISTORY_COLUMNS)."""
    return _completed_assessments(patient_id=patient.pk)


@compiled_once(patient_id=int)
def _completed_assessments(*, patient_id: int) -> QuerySet[Assessment]:
    # Compiled once: the portal's history reads it on every view (issue 19).
    return (
        Assessment.objects.filter(patient_id=patient_id, status=Assessment.Status.COMPLETED)
        .only(*HISTORY_COLUMNS)
        # The triage level of a questionnaire scored as one (the C-SSRS screener, which has no total), for
        # triage_results: read from the scoring result in the same query, not the whole result.
        .annotate(triage_risk=KT("result__risk"))
        .order_by("completed_at", "pk")
    )


def completed_totals(
    patient: Patient,
) -> list[tuple[datetime.datetime | None, str, float | None, str, str | None]]:
    """Each completed questionnaire's time, instrument, total, severity and triage risk level (the C-SSRS screener's
    result, which has no total; None for a questionnaire without one), oldest first: all the patient's timeline
    shows of one. Read as values, not as questionnaires with their staff login joined (issue 19)."""
    return _completed_totals(patient_id=patient.pk)


@compiled_once(patient_id=int)
def _completed_totals(
    *, patient_id: int
) -> QuerySet[Assessment, tuple[datetime.datetime | None, str, float | None, str, str | None]]:
    # Compiled once: the patient's and the staff's timelines read it on every view (issue 19).
    return (
        Assessment.objects.filter(patient_id=patient_id, status=Assessment.Status.COMPLETED)
        .order_by("completed_at", "pk")
        .values_list("completed_at", "instrument_id", "total", "severity", "result__risk")
    )


def entered_total(*, patient: Patient, assessment_id: int | str) -> Assessment:
    """One total staff entered for this patient (the caller has passed patient_get); anything else is a 404."""
    found = Assessment.objects.filter(patient=patient, pk=assessment_id, source=Assessment.Source.STAFF_TOTAL).first()
    if found is None:
        raise Http404("No such entered total.")
    return found


@compiled_once(patient_id=int)
def _urine_screens(*, patient_id: int) -> QuerySet[UrineToxicology]:
    # The columns the page writes, and of who entered a screen their name, not the whole account (issue 19).
    return (
        UrineToxicology.objects.filter(patient_id=patient_id)
        .select_related("entered_by")
        .only(
            "collected_on",
            "result",
            "substances_found",
            "prescribed_found",
            *(f"entered_by__{name}" for name in DISPLAY_NAME_FIELDS),
        )
    )


def urine_toxicology(*, patient: Patient) -> list[UrineToxicology]:
    """The patient's urine drug screens, newest first. The caller has passed patient_get (care team, audit)."""
    return _urine_screens(patient_id=patient.pk)


def scheduled_totals(open_assessments: Iterable[Assessment]) -> list[Assessment]:
    """Of a patient's open questionnaires, those of a course that are totals from licensed forms."""
    total_only = {i.id for i in list_instruments() if i.entry == "total_only"}
    return [a for a in open_assessments if a.group_id is not None and a.instrument_id in total_only]


def open_assessments(patient: Patient) -> list[Assessment]:
    return list(
        Assessment.objects.filter(patient=patient, status__in=Assessment.OPEN_STATUSES).order_by("due_at", "pk")
    )


# What the measures page writes of a questionnaire (its tables, charts, forms and due list). A column left out here
# is read again for each row that shows it; tests/measures/test_entered_totals.py counts the page's queries as its
# record grows.
MEASURES_PAGE_COLUMNS = (
    "patient_id",
    "group_id",
    "instrument_id",
    "occasion",
    "occasion_label",
    "due_at",
    "status",
    "source",
    "total",
    "severity",
    "critical",
    "completed_at",
    "free_text",
    "amended_at",
    "amendment_reason",
)


@compiled_once(patient_id=int)
def _measures_page_assessments(*, patient_id: int) -> QuerySet[Assessment]:
    """The questionnaires the measures page shows, in one read where it took three (issue 19): the completed
    ones, the open ones and the voided totals staff entered, by completion (oldest first, then by id). Only the
    columns the page writes: not the answers and scoring result, nor the whole account of who entered and who
    amended a total (their names). Compiled once (kapstone.compiled_once): compiling its joins and conditions took
    longer than the database took to answer (issue 19)."""
    return (
        Assessment.objects.filter(patient_id=patient_id)
        .filter(
            Q(status__in=[Assessment.Status.COMPLETED, *Assessment.OPEN_STATUSES])
            | Q(status=Assessment.Status.VOIDED, source=Assessment.Source.STAFF_TOTAL)
        )
        .select_related("entered_by", "amended_by")
        .only(
            *MEASURES_PAGE_COLUMNS,
            *(f"{user}__{name}" for user in ("entered_by", "amended_by") for name in DISPLAY_NAME_FIELDS),
        )
        # The triage level of a questionnaire scored as one (the C-SSRS screener has no total): read from the
        # scoring result in the same query, not the whole result.
        .annotate(triage_risk=KT("result__risk"))
        .order_by("completed_at", "pk")
    )


@dataclass
class TriageResults:
    """A questionnaire scored as a triage level (the C-SSRS screener): its results in words, oldest first."""

    instrument: Instrument
    points: list[Assessment]


def triage_results(completed: list[Assessment]) -> list[TriageResults]:
    """The completed questionnaires with a triage level and no total, by instrument: trajectories() charts totals,
    and would leave these out."""
    by_instrument: dict[str, TriageResults] = {}
    for assessment in completed:
        if assessment.total is not None or not getattr(assessment, "triage_risk", None):
            continue
        found = by_instrument.get(assessment.instrument_id)
        if found is None:
            try:
                found = by_instrument[assessment.instrument_id] = TriageResults(
                    get_instrument(assessment.instrument_id), []
                )
            except ScoringError:
                continue
        found.points.append(assessment)
    return list(by_instrument.values())


@compiled_once(patient_id=int)
def _measures_page_alerts(*, patient_id: int) -> QuerySet[CriticalAlert]:
    # The page writes no alert's questionnaire: joining it read every assessment column again (issue 19).
    # Nor every column of the alert and of who acknowledged it: what the page writes of them (issue 19).
    return (
        CriticalAlert.objects.filter(patient_id=patient_id)
        .select_related("acknowledged_by")
        .only(
            "reason",
            "raised_at",
            "acknowledged_at",
            "acknowledgement_note",
            *(f"acknowledged_by__{name}" for name in DISPLAY_NAME_FIELDS),
        )
    )


def patient_measures(*, patient: Patient) -> dict[str, Any]:
    """Everything the clinician's measures page shows. The caller has passed patient_get (care team, audit)."""
    assessments = _measures_page_assessments(patient_id=patient.pk)
    completed = [a for a in assessments if a.status == Assessment.Status.COMPLETED]
    # Due date, then id, as open_assessments orders them; every questionnaire has a due date.
    open_ = sorted((a for a in assessments if a.is_open), key=lambda a: (a.due_at, a.pk))
    alerts = _measures_page_alerts(patient_id=patient.pk)
    staff_only = {i.id: i for i in list_instruments() if not i.patient_can_answer}
    return {
        "trajectories": trajectories(completed),
        "triage_results": triage_results(completed),
        "open_assessments": open_,
        # The instruments of open questionnaires the portal does not send, once each, for the page to say why.
        "to_complete_with_patient": [
            staff_only[instrument_id] for instrument_id in sorted({a.instrument_id for a in open_} & set(staff_only))
        ],
        # Scheduled questionnaires of licensed forms (BDI-II and HAM-A at baseline and end of course): an entered
        # total completes one of these, so it counts at its occasion in the course.
        "scheduled_totals": scheduled_totals(open_),
        "alerts": alerts,
        # Totals staff entered from licensed forms, voided ones too, for correcting or voiding (newest first: the
        # read's order reversed, which is the database's descending order, where a date is missing too).
        "entered_totals": [
            a
            for a in reversed(assessments)
            if a.source == Assessment.Source.STAFF_TOTAL
            and a.status in (Assessment.Status.COMPLETED, Assessment.Status.VOIDED)
        ],
    }


# --- the patient's own view ---------------------------------------------------------------------------------


def _portal_assessments(answerable: frozenset[str], patient_id: int) -> QuerySet[Assessment]:
    """The patient's own questionnaires that the portal may show: not those whose items have no words a
    patient could answer (Instrument.patient_can_answer), which the care team completes with the patient.
    `answerable` is instruments_patients_can_answer(): the reads below are compiled once (issue 19) for each set of
    those instruments, a key, so another set compiles anew."""
    return Assessment.objects.filter(patient_id=patient_id, instrument_id__in=answerable)


def portal_due(*, patient: Patient) -> list[Assessment]:
    """The patient's open questionnaires that are due now (the portal home list): what names each, not the answers
    saved so far (issue 19)."""
    return _due_in_portal(instruments_patients_can_answer(), patient_id=patient.pk, now=timezone.now())


@compiled_once(patient_id=int, now=datetime.datetime)
def _due_in_portal(answerable: frozenset[str], *, patient_id: int, now: datetime.datetime) -> QuerySet[Assessment]:
    # The portal home reads it on every view.
    return (
        _portal_assessments(answerable, patient_id)
        .filter(status__in=Assessment.OPEN_STATUSES, due_at__lte=now)
        .exclude(expires_at__lte=now)
        .only("instrument_id", "occasion", "occasion_label", "status")
        .order_by("due_at", "pk")
    )


def _assessment_or_404(find: Callable[[int], Iterable[Assessment]], assessment_id: int | str) -> Assessment:
    """The assessment `find` reads for the key an address names, or 404 when it finds none or the key is not a
    number. `find` holds the filter of whose assessments the caller may reach."""
    try:
        key = int(assessment_id)
    except (ValueError, TypeError):
        raise Http404("No such questionnaire.") from None
    found = next(iter(find(key)), None)
    if found is None:
        raise Http404("No such questionnaire.")
    return found


def portal_assessment(*, patient: Patient, assessment_id: int | str) -> Assessment:
    """One of the patient's own questionnaires that the portal may show, with the answers saved so far; the
    read is audited."""
    answerable = instruments_patients_can_answer()
    assessment = _assessment_or_404(
        lambda key: _portal_assessment(answerable, patient_id=patient.pk, assessment_id=key), assessment_id
    )
    audit.record(action=audit.Action.READ, patient=patient, object_type="assessment", object_id=assessment.pk)
    return assessment


@compiled_once(patient_id=int, assessment_id=int)
def _portal_assessment(answerable: frozenset[str], *, patient_id: int, assessment_id: int) -> QuerySet[Assessment]:
    # The questionnaire page reads it on every view and every save.
    return _portal_assessments(answerable, patient_id).filter(pk=assessment_id)


def staff_assessment(*, patient: Patient, assessment_id: int | str) -> Assessment:
    """An assessment of a patient the caller already reached through patient_get (which audited the read)."""
    return _assessment_or_404(lambda key: Assessment.objects.filter(patient=patient, pk=key), assessment_id)


@dataclass
class PortalHistory:
    """The patient's questionnaires over time: the totals charted by instrument, and the results scored as a triage
    level (the C-SSRS screener), which have no total to chart."""

    trajectories: list[Trajectory]
    triage_results: list[TriageResults]


def portal_history(*, patient: Patient) -> PortalHistory:
    audit.record(action=audit.Action.READ, patient=patient, object_type="portal_history", object_id=patient.pk)
    completed = completed_assessments(patient)
    return PortalHistory(trajectories(completed), triage_results(completed))


class Reminders(TypedDict):
    """What reminders_due adds to each questionnaire: how many messages went for it, and when the last did."""

    sent: int
    last_sent: datetime.datetime | None


def questionnaire_messages_sent(*, patient: Patient, since: datetime.datetime) -> list[datetime.datetime]:
    """When the patient was sent a questionnaire message since then: one message carries every link a round owes
    them, and each of its log rows has the round's time."""
    return list(
        ReminderLog.objects.filter(assessment__patient=patient, sent_at__gt=since)
        .values_list("sent_at", flat=True)
        .distinct()
        .order_by("sent_at")
    )


def reminders_due(*, now: datetime.datetime) -> dict[int, list[WithAnnotations[Assessment, Reminders]]]:
    """Open questionnaires owed a message now, by patient: never invited, or last sent at least the practice's
    reminder interval ago. Reminders repeat until the questionnaire is done or expires; there is no count
    after which they stop, since an unanswered questionnaire is still owed. A questionnaire the patient cannot
    answer in the portal (Instrument.patient_can_answer) is never sent: the care team completes it with them."""
    every = datetime.timedelta(days=float(portal_setting("reminder_every_days")))
    candidates = (
        Assessment.objects.filter(
            status__in=Assessment.OPEN_STATUSES, due_at__lte=now, instrument_id__in=instruments_patients_can_answer()
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .annotate(sent=Count("reminders"), last_sent=Max("reminders__sent_at"))
        .filter(Q(last_sent__isnull=True) | Q(last_sent__lte=now - every))
        .select_related("patient__user")
        .order_by("patient_id", "due_at", "pk")
    )
    by_patient: dict[int, list[WithAnnotations[Assessment, Reminders]]] = defaultdict(list)
    for assessment in candidates:
        by_patient[assessment.patient_id].append(assessment)
    return dict(by_patient)
