"""Reads for the outcomes report and the research export: one query per table, straight into pandas.

Nothing here loops over patients in Python against the database; safety counts are aggregated by the database
(values() + annotate()). Doses come as one row per dose, because the report summarises them both per patient
and per dose. Every frame is keyed by `patient_id` so the report can restrict it to the cohort with one `isin`.

The cohort is every patient enrolled in a course (enrolled, completed or withdrawn; the waitlist is not a
course), so withdrawals stay in the denominators and missing data shows as missing. Frames of course data
(questionnaires, creativity tasks, doses, safety events, integration windows) carry the `group_id` of the
course they belong to, so the report can keep each patient to one course.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from django.conf import settings
from django.core.cache import cache as django_cache
from django.db.models import Count, Model, Q, QuerySet, TextField
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Cast
from django.utils import timezone

from kapstone.accounts.fields import STAFF_LABEL_FIELDS, staff_label
from kapstone.accounts.models import User
from kapstone.compiled_once import KEYS, compiled_once
from kapstone.creativity.selectors import SCORE_COLUMNS, creativity_scores_frame
from kapstone.dosing import safety
from kapstone.dosing.models import AdverseEvent, DoseRecord, VitalsReading
from kapstone.integration.models import IntegrationWindow
from kapstone.integration.selectors import practice_window_settings, windows_with_work
from kapstone.integration.window import adherence_of_each
from kapstone.measures.models import Assessment, UrineToxicology
from kapstone.outcomes import deidentify
from kapstone.outcomes.practice_settings import MINIMUM_CELL_SIZE, privacy_data
from kapstone.patients.models import Diagnosis, Patient
from kapstone.practice.settings_store import practice_value
from kapstone.program.course_templates import load_templates
from kapstone.program.models import Enrolment, Group, GroupSession
from kapstone.screening.models import ScreeningResult

INDICATIONS_FILE = Path(__file__).parent / "data" / "indications.yaml"
LONG_TERM_SAFETY_INSTRUMENT = "kset-followup"
DOSING_SETTINGS = tuple(GroupSession.DosingSetting.values)
COURSE_STATUSES = (Enrolment.Status.ENROLLED, Enrolment.Status.COMPLETED, Enrolment.Status.WITHDRAWN)


@cache
def indication_rules() -> dict[str, Any]:
    rules: dict[str, Any] = yaml.safe_load(INDICATIONS_FILE.read_text())  # Any: the YAML's rules and labels
    return rules


def indication_of(icd10_code: str | None) -> str:
    rules = indication_rules()
    for rule in rules["rules"]:
        if icd10_code and icd10_code.startswith(rule["prefix"]):
            return str(rule["indication"])
    return str(rules["other"]["indication"]) if icd10_code else "not_recorded"


def indication_labels() -> dict[str, str]:
    rules = indication_rules()
    labels = {rule["indication"]: rule["label"] for rule in rules["rules"]}
    labels[rules["other"]["indication"]] = rules["other"]["label"]
    labels["not_recorded"] = "Not recorded"
    return labels


@dataclass(frozen=True)
class ReportFilters:
    """Which courses the report covers: each patient's earliest course that passes every filter. Dates bound
    the course's start (its group's start date); the facilitator facilitates its group or one of its sessions."""

    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    template_id: str = ""
    facilitator_id: int | None = None
    indication: str = ""
    # The research filter in place of dates: courses whose first dose was at least this many months ago.
    months_since_first_dose: int | None = None
    # Courses with a dosing session at this site, or in this setting (office or supervised at home).
    site: str = ""
    dosing_setting: str = ""

    def as_plain(self) -> dict[str, object]:
        """The filters as JSON values (dates as ISO text), to name a stored report and to pass to a background task."""
        plain: dict[str, object] = {}
        for name, value in dataclasses.asdict(self).items():
            plain[name] = value.isoformat() if isinstance(value, datetime.date) else value
        return plain

    @classmethod
    def from_plain(cls, plain: dict[str, Any]) -> ReportFilters:
        dates = {name: datetime.date.fromisoformat(plain[name]) for name in ("date_from", "date_to") if plain.get(name)}
        return cls(**(plain | dates))

    def describe(self, facilitator_label: str = "", *, site_coded: bool = False) -> list[str]:
        """The filters in words; with `site_coded` (a researcher's), the site as the research export codes it."""
        parts = []
        if self.date_from or self.date_to:
            parts.append(f"courses starting {self.date_from or '…'} to {self.date_to or '…'}")
        if self.template_id:
            parts.append(f"course template {self.template_id}")
        if self.facilitator_id:
            parts.append(f"facilitator {facilitator_label or self.facilitator_id}")
        if self.indication:
            parts.append(f"indication {indication_labels().get(self.indication, self.indication)}")
        if self.months_since_first_dose:
            parts.append(f"first dose at least {self.months_since_first_dose} months ago")
        if self.site:
            parts.append(f"dosed at {site_for_research(self.site) if site_coded else self.site}")
        if self.dosing_setting:
            parts.append(
                f"dosed {dict(GroupSession.DosingSetting.choices).get(self.dosing_setting, self.dosing_setting)}"
            )
        return parts


def _frame(rows: Iterable[object], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame.from_records(list(rows), columns=columns)


# Timestamps come as text and are parsed by pandas in one vectorised call: the database driver's parsing of a
# timestamp object per row was the largest share of the report's time on PostgreSQL (a practice holds hundreds of
# thousands of them).
def _as_text(field: str | KeyTransform) -> Cast:
    return Cast(field, output_field=TextField())


def _timestamps(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


def course_rows() -> pd.DataFrame:
    """Every course of every patient (group, template, start date), earliest first."""
    return _frame(
        Enrolment.objects.filter(status__in=COURSE_STATUSES)
        .order_by("group__start_date", "id")
        .values_list("patient_id", "group_id", "group__template_id", "group__start_date", "status"),
        ["patient_id", "group_id", "template_id", "course_start", "enrolment_status"],
    )


def course_frame() -> pd.DataFrame:
    """One row per patient: their first course (group, template, start date)."""
    return course_rows().drop_duplicates("patient_id", keep="first").reset_index(drop=True)


def facilitator_groups(facilitator_id: int) -> set[int]:
    """Groups the person facilitates, on the group itself or on any of its sessions."""
    on_group = Group.facilitators.through.objects.filter(user_id=facilitator_id).values_list("group_id", flat=True)
    on_session = GroupSession.facilitators.through.objects.filter(user_id=facilitator_id).values_list(
        "groupsession__group_id", flat=True
    )
    return set(on_group) | set(on_session)


def patient_frame(patient_ids: Collection[int] | None = None) -> pd.DataFrame:
    patients = Patient.objects.all() if patient_ids is None else Patient.objects.filter(pk__in=patient_ids)
    frame = _frame(
        patients.values_list("id", "date_of_birth", "sex", "gender_identity"),
        ["patient_id", "date_of_birth", "sex", "gender_identity"],
    )
    diagnoses = _frame(
        Diagnosis.objects.order_by("patient_id", "-is_primary", "id").values_list("patient_id", "icd10_code"),
        ["patient_id", "icd10_code"],
    ).drop_duplicates("patient_id", keep="first")
    frame = frame.merge(diagnoses, on="patient_id", how="left")
    frame["indication"] = [indication_of(code if isinstance(code, str) else None) for code in frame["icd10_code"]]
    return frame


def screening_frame() -> pd.DataFrame:
    """The latest screening result per patient."""
    frame = _frame(
        ScreeningResult.objects.order_by("patient_id", "id").values_list(
            "patient_id", "maudsley_score", "treatment_resistant", "decision"
        ),
        ["patient_id", "maudsley_score", "treatment_resistant", "decision"],
    )
    return frame.drop_duplicates("patient_id", keep="last").reset_index(drop=True)


RECORD_COURSE = ("record__patient_id", "record__session__group_id")


def _per_course_counts(
    queryset: QuerySet[Model], name: str, counted: str = "id", *, distinct: bool = False
) -> pd.DataFrame:
    return _frame(
        queryset.values(*RECORD_COURSE)
        .annotate(count=Count(counted, distinct=distinct))
        .values_list(*RECORD_COURSE, "count")
        .order_by(),
        ["patient_id", "group_id", name],
    )


def _bp_alert_condition() -> Q:
    limits = safety.thresholds()
    stop = Q(systolic__gte=limits["stop_systolic"]) | Q(diastolic__gte=limits["stop_diastolic"])
    pre_dose_review = Q(phase=VitalsReading.Phase.PRE_DOSE) & (
        Q(systolic__gt=limits["predose_systolic_review"]) | Q(diastolic__gt=limits["predose_diastolic_review"])
    )
    return ~Q(alert_level="") & (stop | pre_dose_review)


def safety_frame() -> pd.DataFrame:
    """Per patient and course: adverse events (all, and severe) and dosing sessions with a BP alert, counted in
    the database."""
    adverse = _per_course_counts(AdverseEvent.objects.all(), "adverse_events")
    severe = _per_course_counts(AdverseEvent.objects.filter(severity=AdverseEvent.Severity.SEVERE), "severe_events")
    bp_sessions = _per_course_counts(
        VitalsReading.objects.filter(_bp_alert_condition()), "bp_alert_sessions", "record_id", distinct=True
    )
    keys = ["patient_id", "group_id"]
    frame = adverse.merge(severe, on=keys, how="outer").merge(bp_sessions, on=keys, how="outer")
    return frame.fillna(0)


def assessment_frame(instrument_ids: Collection[str] | None = None) -> pd.DataFrame:
    completed = Assessment.objects.filter(status=Assessment.Status.COMPLETED, total__isnull=False)
    if instrument_ids is not None:
        completed = completed.filter(instrument_id__in=instrument_ids)
    frame = _frame(
        completed.order_by()
        .annotate(completed_text=_as_text("completed_at"))
        .values_list("id", "patient_id", "group_id", "instrument_id", "occasion", "total", "completed_text", "source"),
        ["assessment_id", "patient_id", "group_id", "instrument_id", "occasion", "total", "completed_at", "source"],
    )
    return _timestamps(frame, "completed_at")


def adherence_frame(patient_ids: Collection[int] | None = None) -> pd.DataFrame:
    """Every integration window with its course and adherence, judged by the integration app's own rules, and when it
    closes (its outer bound: an open window turns late then)."""
    windows = IntegrationWindow.objects.all()
    if patient_ids is not None:
        windows = windows.filter(patient_id__in=patient_ids)
    rows = (
        windows_with_work(windows.order_by())
        .annotate(
            dosed_text=_as_text("dosed_at"), entry_text=_as_text("first_entry_at"), note_text=_as_text("first_note_at")
        )
        .values_list("patient_id", "dosing_session__group_id", "dosed_text", "entry_text", "note_text")
    )
    frame = _timestamps(
        _frame(rows, ["patient_id", "group_id", "dosed_at", "entry_at", "note_at"]), "dosed_at", "entry_at", "note_at"
    )
    settings = practice_window_settings()
    dosed_at = frame["dosed_at"].to_numpy(dtype="datetime64[ns]")
    done_at = frame[["entry_at", "note_at"]].min(axis=1).to_numpy(dtype="datetime64[ns]")
    frame["adherence"] = adherence_of_each(dosed_at, done_at, timezone.now(), settings)
    frame["closes_at"] = frame["dosed_at"] + pd.Timedelta(hours=settings["outer_hours"])
    return frame[["patient_id", "group_id", "dosed_at", "adherence", "closes_at"]]


def creativity_frame() -> pd.DataFrame:
    """Scored creativity tasks (AUT and DAT), one row per administration, from the creativity app's selector."""
    selected = [column if column != "submitted_at" else "submitted_text" for column in SCORE_COLUMNS]
    rows = creativity_scores_frame().annotate(submitted_text=_as_text("submitted_at")).values_list(*selected)
    return _timestamps(_frame(rows, list(SCORE_COLUMNS)), "submitted_at")


def dose_rows() -> pd.DataFrame:
    """Every dose given, with its course (`group_id`), for the report's dose summaries and the export's rows."""
    frame = _frame(
        DoseRecord.objects.filter(administered_at__isnull=False)
        .order_by()
        .annotate(administered_text=_as_text("administered_at"))
        .values_list(
            "id",
            "patient_id",
            "session__group_id",
            "session__number",
            "route",
            "dose_mg",
            "weight_kg",
            "administered_text",
            "sedation_moaas",
            "dissociation_cadss",
            "session__site",
            "session__dosing_setting",
        ),
        [
            "dose_record_id",
            "patient_id",
            "group_id",
            "dosing_session_number",
            "route",
            "dose_mg",
            "weight_kg",
            "administered_at",
            "sedation_moaas",
            "dissociation_cadss",
            "site",
            "dosing_setting",
        ],
    )
    return _timestamps(frame, "administered_at")


# For the research export: rows, not aggregates, but still one query per table.


def vitals_rows() -> pd.DataFrame:
    return _frame(
        VitalsReading.objects.order_by().values_list(
            "record_id", "record__patient_id", "phase", "systolic", "diastolic", "heart_rate", "spo2", "alert_level"
        ),
        ["dose_record_id", "patient_id", "phase", "systolic", "diastolic", "heart_rate", "spo2", "alert_level"],
    )


def adverse_event_rows() -> pd.DataFrame:
    # `kind`, `description` and `action_taken` are free text: never selected.
    return _frame(
        AdverseEvent.objects.order_by().values_list(
            "record_id", "record__patient_id", "severity", "hypersensitivity", "occurred_at"
        ),
        ["dose_record_id", "patient_id", "severity", "hypersensitivity", "occurred_at"],
    )


def facilitator_choices(*, digest: str) -> list[tuple[int, str]]:
    """Everyone the facilitator filter can match (facilitators of a group or of any session), for the form.

    Who facilitated is read once per version of the report's inputs (both facilitator tables are among them): on
    PostgreSQL the planner, guessing each member of a small staff holds a share of the session table, scanned all of
    it for every member who facilitated nothing, on every view. Their names and roles are read fresh, by key."""

    def read() -> list[int]:
        return sorted(
            {
                *Group.facilitators.through.objects.order_by().values_list("user_id", flat=True).distinct(),
                *GroupSession.facilitators.through.objects.order_by().values_list("user_id", flat=True).distinct(),
            }
        )

    ids: list[int] = _per_data_version("facilitators", digest, read)
    return [(person.pk, staff_label(person)) for person in _people_named(ids=ids)]


@compiled_once(ids=KEYS)
def _people_named(*, ids: list[int]) -> QuerySet[User]:
    """Members of staff by key with what staff_label words of them, compiled once (kapstone.compiled_once) for each
    number of them: the report page asks on every view."""
    return User.objects.filter(pk__in=ids).only(*STAFF_LABEL_FIELDS).order_by("last_name", "first_name")


def _per_data_version(name: str, digest: str, compute: Callable[[], Any]) -> Any:
    """`compute()` once per version of the report's inputs (`digest`, snapshots.fingerprint's, which the caller reads
    once for all it asks) in each process: the form's choices are offered on every page view, and reading them from
    every group and session grew with the practice."""
    key = f"outcomes:{name}:{digest}"
    value = django_cache.get(key)
    if value is None:
        value = compute()
        django_cache.set(key, value, timeout=24 * 3600)
    return value


def template_choices(*, digest: str) -> list[str]:
    def read() -> list[str]:
        return sorted(Group.objects.order_by().values_list("template_id", flat=True).distinct())

    templates: list[str] = _per_data_version("templates", digest, read)
    return templates


def template_labels() -> dict[str, str]:
    """Each course template's name by its id ("journey-clinical-style" -> "Journey Clinical style course (...)");
    an id no template file holds any more keeps the id."""
    return {template_id: template.name for template_id, template in load_templates().items()}


def minimum_cell_size() -> int:
    """The practice's minimum cell size for researchers (practice setting, held at or above its hard bound)."""
    return int(practice_value(MINIMUM_CELL_SIZE, privacy_data()["settings"]["minimum_cell_size"]["value"]))


def first_course_patients_by(column: str, *, digest: str) -> dict[str, int]:
    """How many patients' first course has each template (column "template_id"), for the researcher's filters."""

    def count() -> dict[str, int]:
        counts: dict[str, int] = course_frame()[column].value_counts().to_dict()
        return counts

    counts: dict[str, int] = _per_data_version(f"first-course-{column}", digest, count)
    return counts


def groups_dosed_at(*, site: str = "", dosing_setting: str = "") -> set[int]:
    """Groups with a dosing session at the site and in the setting given (either may be blank: any)."""
    sessions = GroupSession.objects.filter(kind=GroupSession.Kind.DOSING)
    if site:
        sessions = sessions.filter(site=site)
    if dosing_setting:
        sessions = sessions.filter(dosing_setting=dosing_setting)
    return set(sessions.values_list("group_id", flat=True).distinct())


def site_for_research(site: str) -> str:
    """A site as a researcher reads it, on the report as in the export: a code under the practice's research key,
    since an admin may name a site after a person or a street (deidentify.site_code)."""
    return deidentify.site_code(settings.RESEARCH_ID_KEY, site)


def site_choices(*, digest: str) -> list[str]:
    """Every site a dosing session has recorded, for the report's filter."""

    def read() -> list[str]:
        return sorted(GroupSession.objects.exclude(site="").order_by().values_list("site", flat=True).distinct())

    sites: list[str] = _per_data_version("sites", digest, read)
    return sites


def long_term_safety_frame(*, with_answers: bool = True) -> pd.DataFrame:
    """Completed long-term safety follow-ups, one row per form, with the flags (coded answers) it raised. The written
    answer is never selected. The report counts flags only: without `with_answers` the form's answers are not read,
    and its date comes as text parsed in one call (the two were a third of the report's time at 10,000 patients)."""
    rows = Assessment.objects.filter(
        status=Assessment.Status.COMPLETED, instrument_id=LONG_TERM_SAFETY_INSTRUMENT
    ).order_by()
    if not with_answers:
        frame = _frame(
            rows.annotate(
                completed_text=_as_text("completed_at"), flags_text=_as_text(KeyTransform("flags", "result"))
            ).values_list("id", "patient_id", "group_id", "occasion", "occasion_label", "completed_text", "flags_text"),
            ["assessment_id", "patient_id", "group_id", "occasion", "occasion_label", "completed_at", "flags"],
        )
        # Each form's flags as JSON text, decoded in one call rather than a whole result document per row.
        frame["flags"] = json.loads("[" + ",".join(text or "[]" for text in frame["flags"]) + "]")
        return _timestamps(frame, "completed_at")
    return _frame(
        (
            (pk, patient, group, occasion, label, completed, answers, (result or {}).get("flags", []))
            for pk, patient, group, occasion, label, completed, answers, result in rows.values_list(
                "id", "patient_id", "group_id", "occasion", "occasion_label", "completed_at", "answers", "result"
            )
        ),
        ["assessment_id", "patient_id", "group_id", "occasion", "occasion_label", "completed_at", "answers", "flags"],
    )


def urine_toxicology_frame() -> pd.DataFrame:
    return _frame(
        UrineToxicology.objects.order_by().values_list(
            "patient_id", "collected_on", "result", "substances_found", "prescribed_found"
        ),
        ["patient_id", "collected_on", "result", "substances_found", "prescribed_found"],
    )
