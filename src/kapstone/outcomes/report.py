"""The practice outcomes report, in the manner of Dore et al. 2019 (J Psychoactive Drugs 51(2):189-198):
demographics, baseline clinical data, change per questionnaire with subgroups, trajectories, safety and
integration adherence. `build_report` gathers the data (selectors), computes (statistics) and returns a
plain dataclass that the HTML template, the PDF and the tests all read.

Missing data is never dropped silently: every analysis carries the N it used and how many were missing, and
`missing_data` states in words every patient or record an analysis leaves out. Only aggregates leave this
module; no row describes one patient.

Definitions:
- Course = each patient's earliest course that passes the filters (dates, template, facilitator); the
  indication filter selects patients. Everything per course comes from that course only: doses, safety
  events and integration windows by their dosing session's group; questionnaires and creativity tasks by
  the course they were scheduled for, or, when linked to no course (entered ad hoc), only if the patient
  has no other course, since they could belong to either (the left-out ones are counted).
- Baseline = the course's last completed `baseline` questionnaire before its first dose (a total entered by staff
  carries only its day, so it counts when that day is not after the first dose's); one completed after the first
  dose measures the treatment, not the state before it, so it is left out and counted. A course with no dose keeps
  its last baseline. End of course = its last completed `end_of_course` one. Change = end - baseline (negative =
  fewer symptoms). The same baselines serve the change tables, the trajectories and the Dore 2019 comparison.
- Trajectory position = dosing sessions received before the questionnaire: 0 at baseline, n - 1 before
  dosing session n (`pre_dosing_n`), and the patient's number of dosing sessions at the end of course.
  Follow-up and ad hoc questionnaires are not on that timeline, so not modelled (their number is stated). An
  end-of-course questionnaire of a patient given no dose has no position: it is left out and counted.
- Summaries say what counts once: per patient (e.g. each patient's mean dose, every patient weighing the same)
  or per dose (every dose given weighing the same), each with its own N.
- Gender identity is free text in the record, so the report counts it in the research export's fixed list
  (deidentify.gender_category): a rare self-description is "other", for every reader.
- Age = whole years at the start of the course, top-coded for every reader: everyone 90 or
  older counts as 90 in every age the report prints (mean, median, range, bands), as HIPAA Safe Harbor
  groups ages over 89 (deidentify.AGE_TOP_CODE).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.utils import timezone

from kapstone.dosing.models import Route
from kapstone.integration.window import Adherence
from kapstone.measures.models import Assessment
from kapstone.measures.scoring import ScoringError, UnknownInstrument, get_instrument
from kapstone.measures.selectors import change_rule
from kapstone.outcomes import charts, dore, selectors
from kapstone.outcomes.deidentify import AGE_TOP_CODE, GENDER_VOCABULARY, gender_category
from kapstone.outcomes.statistics import (
    STATSMODELS_MAX_PATIENTS,
    EventRate,
    MeanEstimate,
    PairedComparison,
    Rate,
    Trajectory,
    age_band,
    age_in_years,
    mean_with_ci,
    mixed_trajectory,
    paired_comparison,
    per_100_sessions,
    wilson_rate,
)
from kapstone.patients.models import Sex
from kapstone.screening.engine import maudsley_bands

# Dosing-session bands for the subgroup table. Field Trip's courses had 4-6 dosing sessions
# ([nct05604794]), so fewer and more are reported on either side of that.
SESSION_BANDS = ((1, 3, "1-3 sessions"), (4, 6, "4-6 sessions"), (7, None, "7 or more sessions"))
ROUTE_LABELS = dict(Route.choices)
SEX_LABELS = dict(Sex.choices)
ADHERENCE_ORDER = ("within_48h", "within_72h", "late", "open")
# Creativity scores compared baseline to end of course (mean and top-2 originality per person, so
# fluency does not confound originality, [reiter-palmon-2019]; DAT score per [olson-2021]).
CREATIVITY_SCORES = (
    ("aut", "fluency", "AUT fluency (valid ideas per object)"),
    ("aut", "flexibility", "AUT flexibility (categories per object)"),
    ("aut", "originality_mean", "AUT originality, mean"),
    ("aut", "originality_top2", "AUT originality, top 2"),
    ("dat", "dat_score", "DAT score"),
)
CHANGE_RATES = (
    ("response", "Response"),
    ("remission", "Remission"),
    ("reliable_improvement", "Reliable improvement"),
    ("reliable_deterioration", "Reliable deterioration"),
)
# How a remission rule's comparison reads in the rate's label ("Remission (end-of-course total below 5)").
REMISSION_WORDS = {"lt": "below", "lte": "of", "gt": "above", "gte": "of", "eq": "of"}
REMISSION_SUFFIX = {"lte": " or less", "gte": " or more"}


def maudsley_band(score: float | None) -> str:
    if score is None or np.isnan(score):
        return "not staged"
    for band in maudsley_bands():
        if band["min"] <= score <= band["max"]:
            return f"{band['label']} ({band['min']}-{band['max']})"
    return "not staged"


def session_band(count: float) -> str:
    if not count or np.isnan(count):
        return "no dosing session recorded"
    for low, high, label in SESSION_BANDS:
        if count >= low and (high is None or count <= high):
            return label
    raise AssertionError("unreachable: the last band is open-ended")


@dataclass(frozen=True)
class CountRow:
    label: str
    count: int
    of: int
    suppressed: bool = False  # withheld from a researcher (suppression.py)

    @property
    def percent(self) -> float | None:
        return None if self.of == 0 else 100 * self.count / self.of


@dataclass(frozen=True)
class SummaryRow:
    label: str
    estimate: MeanEstimate  # its n: the values summarised
    unit: str  # what one value is: "patients" or "doses"
    of: int  # the values there could have been, missing ones included
    median: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    top_code: float | None = None  # values were capped here, so this value reads "or older"


@dataclass
class TableSection:
    title: str
    n: int
    missing: int = 0
    unit: str = "patients"
    counts: list[CountRow] = field(default_factory=list)
    summaries: list[SummaryRow] = field(default_factory=list)
    note: str = ""


@dataclass(frozen=True)
class SubgroupRow:
    dimension: str
    label: str
    comparison: PairedComparison
    response: Rate | None
    response_withheld: bool = False  # for a researcher: a count or its complement under the minimum cell size


@dataclass
class InstrumentOutcome:
    instrument_id: str
    name: str
    n_baseline: int
    n_end: int  # every patient with an end-of-course total, with a baseline or not
    comparison: PairedComparison
    rates: list[tuple[str, Rate | None]]  # None: withheld for a researcher (suppression.py)
    reliable_change_method: str
    subgroups: list[SubgroupRow]
    trajectory: Trajectory | None = None
    trajectory_means: list[tuple[int, MeanEstimate]] = field(default_factory=list)
    chart_svg: str = ""
    missing_baseline: int = 0  # patients with an end-of-course total but no baseline: not in the pairs
    trajectory_questionnaires: int = 0  # on the dosing timeline, in the model or left out
    trajectory_left_out: list[str] = field(default_factory=list)  # of those, what the model leaves out, with N
    off_timeline: int = 0  # follow-up and ad hoc questionnaires: not on the dosing timeline, never modelled

    @property
    def missing_end(self) -> int:
        return self.n_baseline - self.comparison.n


@dataclass(frozen=True)
class ScoreChange:
    label: str
    n_baseline: int
    comparison: PairedComparison
    missing_baseline: int = 0

    @property
    def missing_end(self) -> int:
        return self.n_baseline - self.comparison.n


@dataclass
class SafetySummary:
    sessions: int
    patients: int
    adverse_events: EventRate
    severe_events: EventRate
    bp_alert_sessions: EventRate
    by_route: list[tuple[str, EventRate, EventRate]]


@dataclass
class AdherenceSummary:
    windows: int
    counts: list[CountRow]
    completed_in_window: Rate | None
    open_windows: int
    next_close: datetime.datetime | None = None  # the earliest outer bound of the open windows: then one turns late


@dataclass
class OutcomesReport:
    generated_at: datetime.datetime
    filters: list[str]
    cohort: int
    table1: list[TableSection]
    table2: list[TableSection]
    instruments: list[InstrumentOutcome]
    safety: SafetySummary
    adherence: AdherenceSummary
    creativity: list[ScoreChange]
    notes: list[str]
    missing_data: list[str] = field(default_factory=list)
    overview_svg: str = ""
    # For a researcher (suppression.py): counts from 1 to min_cell - 1 are withheld; withheld = the whole report.
    min_cell: int = 0
    withheld: bool = False
    dore: dore.DoreTable | None = None
    long_term_safety: list[TableSection] = field(default_factory=list)
    # When time alone changes a figure (an open integration window turns late, a course reaches the months since its
    # first dose a filter asks for): the figures hold until then, if no data changes. None: only new data changes them.
    valid_until: datetime.datetime | None = None
    # The filters as a researcher reads them (the site coded: selectors.site_for_research); suppression.py shows them.
    filters_for_research: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return self.cohort == 0


def _counts(values: pd.Series, labels: dict | None = None, order=None, *, by_label: bool = False) -> list[CountRow]:
    """Counts of each value: in the given order (every key shown), by label, or most frequent first."""
    total = len(values)
    tallies = values.value_counts(dropna=False)
    keys = list(order) if order is not None else list(tallies.index)
    if by_label:
        keys.sort(key=str)
    rows = []
    for key in keys:
        count = int(tallies.get(key, 0))
        if count or order is not None:
            rows.append(CountRow((labels or {}).get(key, str(key)), count, total))
    return rows


def _summary(label: str, values: pd.Series, *, unit: str = "patients", top_code: float | None = None) -> SummaryRow:
    data = values.dropna().astype(float)
    if data.empty:
        return SummaryRow(label, mean_with_ci(data), unit, len(values), top_code=top_code)
    return SummaryRow(
        label,
        mean_with_ci(data),
        unit,
        len(values),
        float(data.median()),
        float(data.min()),
        float(data.max()),
        top_code=top_code,
    )


def _cohort(filters: selectors.ReportFilters) -> tuple[pd.DataFrame, datetime.datetime | None]:
    """One row per patient in the report, with their course (see the module docstring), whether it is their only
    course, demographics and indication; and when time alone next changes who is in it (None: never)."""
    changes_at = None
    courses = selectors.course_rows()
    course_counts = courses["patient_id"].value_counts()
    if filters.date_from:
        courses = courses[courses["course_start"] >= filters.date_from]
    if filters.date_to:
        courses = courses[courses["course_start"] <= filters.date_to]
    if filters.template_id:
        courses = courses[courses["template_id"] == filters.template_id]
    if filters.facilitator_id:
        courses = courses[courses["group_id"].isin(selectors.facilitator_groups(filters.facilitator_id))]
    if filters.months_since_first_dose:
        courses, changes_at = _first_dosed_before(courses, months=filters.months_since_first_dose)
    if filters.site or filters.dosing_setting:
        dosed_at = selectors.groups_dosed_at(site=filters.site, dosing_setting=filters.dosing_setting)
        courses = courses[courses["group_id"].isin(dosed_at)]
    courses = courses.drop_duplicates("patient_id", keep="first")
    courses = courses.assign(only_course=courses["patient_id"].map(course_counts).eq(1))
    patients = selectors.patient_frame(courses["patient_id"].tolist() if len(courses) < 900 else None)
    cohort = courses.merge(patients, on="patient_id", how="inner")
    if filters.indication:
        cohort = cohort[cohort["indication"] == filters.indication]
    cohort = cohort.reset_index(drop=True)
    if cohort.empty:
        cohort["age"] = pd.Series(dtype=float)
        return cohort, changes_at
    ages = age_in_years(
        pd.to_datetime(cohort["date_of_birth"]).to_numpy(), pd.to_datetime(cohort["course_start"]).to_numpy()
    )
    # Capped where the age is made, so no table, band or subgroup downstream can print an age over 89.
    cohort["age"] = np.minimum(ages, AGE_TOP_CODE)
    return cohort, changes_at


AVERAGE_MONTH = datetime.timedelta(days=365.25 / 12)


def _first_dosed_before(courses: pd.DataFrame, *, months: int) -> tuple[pd.DataFrame, datetime.datetime | None]:
    """The courses whose first dose was given at least `months` months ago (courses with no dose are left out), and
    when the next course reaches that age (None: no course will)."""
    doses = selectors.dose_rows()
    first = doses.groupby(["patient_id", "group_id"], as_index=False)["administered_at"].min()
    cutoff = timezone.now() - months * AVERAGE_MONTH
    first_dose = pd.to_datetime(first["administered_at"], utc=True)
    long_enough = first[first_dose <= cutoff]
    not_yet = first_dose[first_dose > cutoff]
    changes_at = None if not_yet.empty else not_yet.min().to_pydatetime() + months * AVERAGE_MONTH
    return (
        courses.merge(long_enough[["patient_id", "group_id"]], on=["patient_id", "group_id"], how="inner"),
        changes_at,
    )


def _of_course(frame: pd.DataFrame, cohort: pd.DataFrame) -> pd.DataFrame:
    """The rows of a frame keyed by patient and course that belong to each patient's reported course."""
    return frame.merge(cohort[["patient_id", "group_id"]], on=["patient_id", "group_id"], how="inner")


def _linked_to_course(frame: pd.DataFrame, cohort: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Questionnaires or creativity tasks of the reported course, and how many were left out because they are
    linked to no course and their patient has several (see the module docstring)."""
    by_patient = cohort.set_index("patient_id")
    course = frame["patient_id"].map(by_patient["group_id"])
    only_course = frame["patient_id"].map(by_patient["only_course"]).eq(True)
    unlinked = frame["group_id"].isna()
    keep = (~unlinked & (frame["group_id"] == course)) | (unlinked & only_course)
    return frame[keep], int((unlinked & ~only_course & course.notna()).sum())


def _course_doses(cohort: pd.DataFrame) -> pd.DataFrame:
    """Every dose given in the patients' reported courses: route, mg, and mg/kg where a weight was recorded."""
    doses = _of_course(selectors.dose_rows(), cohort)
    dose_mg = pd.to_numeric(doses["dose_mg"], errors="coerce").astype(float)
    weight_kg = pd.to_numeric(doses["weight_kg"], errors="coerce").astype(float)
    return pd.DataFrame(
        {
            "patient_id": doses["patient_id"],
            "route": doses["route"],
            "dose_mg": dose_mg,
            "mg_per_kg": dose_mg / weight_kg,
            "site": doses["site"],
            "dosing_setting": doses["dosing_setting"],
            "administered_at": doses["administered_at"],
        }
    )


def _practice_days(stamps: pd.Series) -> pd.Series:
    """The calendar day of each time in the practice's time zone."""
    return pd.to_datetime(stamps, utc=True).dt.tz_convert(timezone.get_current_timezone_name()).dt.date


def _baselines_before_first_dose(
    frame: pd.DataFrame, course_doses: pd.DataFrame, *, time_column: str, day_only: pd.Series | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    """The rows of `frame` without the baselines completed after their course's first dose (see the module
    docstring), and those left out. `day_only` marks rows whose time stands for a whole day (totals entered by staff
    are stamped at noon): they count as before the dose when their day is not after the dose's day."""
    if frame.empty or course_doses.empty:
        return frame, frame.iloc[0:0]
    first_dose = course_doses.groupby("patient_id")["administered_at"].min()
    dosed_at = pd.to_datetime(frame["patient_id"].map(first_dose), utc=True)
    completed = pd.to_datetime(frame[time_column], utc=True)
    after = dosed_at.notna() & (completed >= dosed_at)
    if day_only is not None and day_only.any():
        dosed = dosed_at.notna() & day_only
        after[dosed] = _practice_days(completed[dosed]) > _practice_days(dosed_at[dosed])
    late = (frame["occasion"] == "baseline") & after
    return frame[~late], frame[late]


PER_PATIENT_DOSE_COLUMNS = [
    "patient_id",
    "sessions",
    "route",
    "mean_dose_mg",
    "mean_mg_per_kg",
    "site",
    "dosing_setting",
]


def _most_doses(course_doses: pd.DataFrame, column: str) -> pd.Series:
    """Per patient, the value of `column` (route, site, setting) of most of their doses (ties: the last by name)."""
    counts = course_doses.groupby(["patient_id", column]).size().rename("doses").reset_index()
    main = counts.sort_values(["patient_id", "doses", column]).drop_duplicates("patient_id", keep="last")
    return main.set_index("patient_id")[column]


def _doses(course_doses: pd.DataFrame) -> pd.DataFrame:
    """Per patient: dosing sessions dosed (one dose per session), the route of most doses, the mean dose over
    the doses with one in mg, and the mean mg/kg over the doses with a weight (never over the doses without)."""
    if course_doses.empty:
        return pd.DataFrame(columns=PER_PATIENT_DOSE_COLUMNS)
    per_patient = course_doses.groupby("patient_id").agg(
        sessions=("route", "size"), mean_dose_mg=("dose_mg", "mean"), mean_mg_per_kg=("mg_per_kg", "mean")
    )
    for column in ("route", "site", "dosing_setting"):
        per_patient[column] = _most_doses(course_doses, column)
    return per_patient.reset_index()[PER_PATIENT_DOSE_COLUMNS]


def _table1(cohort: pd.DataFrame) -> list[TableSection]:
    n = len(cohort)
    ages = cohort["age"]
    return [
        TableSection(
            "Age at the start of the course (years)",
            n=int(ages.notna().sum()),
            missing=int(ages.isna().sum()),
            summaries=[_summary("Age", ages, top_code=AGE_TOP_CODE)],
            counts=_counts(ages.map(age_band), by_label=True),
            note=f"Ages of {AGE_TOP_CODE} or older count as {AGE_TOP_CODE} in the mean, median, range and bands "
            "(HIPAA Safe Harbor groups ages over 89: 45 CFR 164.514(b)(2)(i)(C)).",
        ),
        TableSection("Sex", n=n, counts=_counts(cohort["sex"], SEX_LABELS)),
        TableSection(
            "Gender identity",
            n=n,
            counts=_counts(cohort["gender_identity"].map(gender_category)),
            note=f"As in the research export: one of {', '.join(sorted(GENDER_VOCABULARY))}; other for any other "
            "self-description, so that a rare one cannot single anyone out; not recorded when blank.",
        ),
    ]


def _table2(
    cohort: pd.DataFrame, doses: pd.DataFrame, course_doses: pd.DataFrame, screening: pd.DataFrame
) -> list[TableSection]:
    n = len(cohort)
    labels = selectors.indication_labels()
    staged = screening["maudsley_score"].dropna() if not screening.empty else pd.Series(dtype=float)
    resistant = screening["treatment_resistant"].dropna() if not screening.empty else pd.Series(dtype=bool)
    with_doses = doses[doses["sessions"] > 0]
    session_counts = cohort[["patient_id"]].merge(doses, on="patient_id", how="left")["sessions"].fillna(0)
    return [
        TableSection("Indication (primary diagnosis)", n=n, counts=_counts(cohort["indication"], labels)),
        TableSection(
            "Treatment resistance (latest screening)",
            n=len(resistant),
            missing=n - len(resistant),
            counts=_counts(resistant.map({True: "Treatment-resistant", False: "Not treatment-resistant"})),
        ),
        TableSection(
            "Maudsley Staging Method score (3-15)",
            n=len(staged),
            missing=n - len(staged),
            summaries=[_summary("Maudsley score", staged)],
            counts=_counts(staged.map(maudsley_band), by_label=True),
            note="Staged at screening for depression (Fekadu et al. 2009); bands as in the screening rules.",
        ),
        TableSection(
            "Route (the route of most of the patient's doses)",
            n=len(with_doses),
            missing=n - len(with_doses),
            counts=_counts(with_doses["route"].replace("", "not recorded"), ROUTE_LABELS),
        ),
        TableSection(
            "Dose per patient (each patient's mean over their doses; every patient counts once)",
            n=len(with_doses),
            missing=n - len(with_doses),
            summaries=[
                _summary("Dose (mg)", with_doses["mean_dose_mg"]),
                _summary("Dose (mg/kg)", with_doses["mean_mg_per_kg"]),
            ],
            note="A patient's mg/kg is the mean over their doses with a weight recorded; patients with none are "
            "not in the mg/kg N.",
        ),
        TableSection(
            "Dose per dose (every dose given counts once)",
            n=len(course_doses),
            unit="doses",
            summaries=[
                _summary("Dose (mg)", course_doses["dose_mg"], unit="doses"),
                _summary("Dose (mg/kg)", course_doses["mg_per_kg"], unit="doses"),
            ],
            note="mg/kg: the doses with a weight recorded before dosing.",
        ),
        TableSection(
            "Dosing sessions per patient",
            n=n,
            summaries=[_summary("Dosing sessions", session_counts)],
            counts=_counts(session_counts.map(session_band), by_label=True),
        ),
        TableSection("Course template", n=n, counts=_counts(cohort["template_id"], selectors.template_labels())),
    ]


def _baseline_and_end(scores: pd.DataFrame, column: str, order: list[str]) -> pd.DataFrame:
    """Per patient: the last baseline and the last end-of-course value, either missing (NaN) when absent, in the
    `order` of the columns named (a time, then an id where two rows can share it: totals entered for one day all
    stand at noon, and the report must pick the same one each time)."""
    ordered = scores.sort_values(order, kind="stable")
    baseline = ordered[ordered["occasion"] == "baseline"].drop_duplicates("patient_id", keep="last")
    end = ordered[ordered["occasion"] == "end_of_course"].drop_duplicates("patient_id", keep="last")
    return baseline[["patient_id", column]].merge(
        end[["patient_id", column]], on="patient_id", how="outer", suffixes=("_baseline", "_end")
    )


def _short_name(instrument_id: str) -> str:
    try:
        return get_instrument(instrument_id).short_name
    except UnknownInstrument:
        return instrument_id


def _late_baseline_statements(names: pd.Series) -> list[str]:
    """One sentence per questionnaire or task (its name in `names`, one per baseline left out) for the baselines
    completed after the course's first dose."""
    return [
        f"{name}: {_counted(int(count), 'baseline')} completed after the course's first dose "
        f"{'is' if count == 1 else 'are'} left out, as a score after dosing is not a baseline."
        for name, count in sorted(names.value_counts().items())
    ]


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _patients_have(count: int) -> str:
    return f"{count} patient has" if count == 1 else f"{count} patients have"


def _missing_statements(name: str, n_baseline: int, missing_baseline: int, missing_end: int) -> list[str]:
    """The missing-data sentences of one baseline-to-end analysis, e.g. "GAD-7: 3 patients have an
    end-of-course score but no baseline, so they are left out of the paired analysis."."""
    statements = []
    if missing_baseline:
        consequence = (
            "so no change can be reported" if not n_baseline else "so they are left out of the paired analysis"
        )
        statements.append(
            f"{name}: {_patients_have(missing_baseline)} an end-of-course score but no baseline, {consequence}."
        )
    if missing_end:
        statements.append(
            f"{name}: {_patients_have(missing_end)} a baseline but no end-of-course score, "
            "so they are left out of the paired analysis."
        )
    return statements


def _change_rates(instrument_id: str, pairs: pd.DataFrame) -> tuple[list[tuple[str, Rate | None]], str, pd.DataFrame]:
    """Response, remission and reliable change per pair, by the measures app's own rule: the one the patient's chart
    applies (measures.selectors.change_rule: the practice's settings and its baseline sample's SD)."""
    try:
        rule = change_rule(get_instrument(instrument_id))
    except ScoringError:
        # A practice setting for the instrument the scorer refuses: the chart shows the problem; here, no rates.
        return [], "", pd.DataFrame(index=pairs.index)
    # The rule is a function of the two totals alone, and totals take few values: each distinct pair is classified
    # once (thousands of patients, a few hundred pairs).
    totals = list(zip(pairs["total_baseline"], pairs["total_end"], strict=True))
    by_pair = {pair: rule.classify(*pair) or {} for pair in set(totals)}
    classified = [by_pair[pair] for pair in totals]
    frame = pd.DataFrame(classified, index=pairs.index)
    # The response and remission thresholds are the instrument's own cited rules, so the labels read them from there
    # (PHQ-9 remission is below 5, QIDS-SR16 5 or less: a reader comparing the two needs to see which).
    change = get_instrument(instrument_id).definition.get("change") or {}
    response_rule, remission_rule = change.get("response") or {}, change.get("remission") or {}
    labels = dict(CHANGE_RATES)
    if "min_reduction" in response_rule:
        labels["response"] = f"Response (at least {response_rule['min_reduction']:.0%} reduction)"
    if remission_rule.get("when"):
        ((comparison, threshold),) = remission_rule["when"].items()
        labels["remission"] = (
            f"Remission (end-of-course total {REMISSION_WORDS[comparison]} {threshold:g}"
            f"{REMISSION_SUFFIX.get(comparison, '')})"
        )
    rates: list[tuple[str, Rate | None]] = []
    for key, _ in CHANGE_RATES:
        known = frame[key].dropna() if key in frame else pd.Series(dtype=bool)
        if len(known) or frame.empty:
            rates.append((labels[key], wilson_rate(int(known.astype(bool).sum()), len(known))))
    methods = sorted(set(frame["reliable_change_method"].dropna())) if "reliable_change_method" in frame else []
    method = {
        "jacobson_truax": "Jacobson & Truax reliable change index (|RCI| > 1.96)",
        "fixed_threshold": "the instrument's fixed reliable-change threshold",
    }
    return rates, ", ".join(method.get(m, m) for m in methods), frame


def _each_value(values: pd.Series, function) -> pd.Series:
    """`function` of each value, called once per distinct value (an age or a total: thousands of rows, a few dozen
    values); a missing value is passed as NaN."""
    codes, distinct = pd.factorize(values)
    results = [function(value) for value in distinct]
    if (codes == -1).any():
        results.append(function(np.nan))  # code -1: the missing values
    return pd.Series(np.array(results, dtype=object)[codes], index=values.index)


def _pre_dosing_number(occasion: str) -> float:
    """n for the questionnaire before dosing session n (`pre_dosing_n`), else NaN."""
    found = re.fullmatch(r"pre_dosing_(\d+)", occasion)
    return float(found.group(1)) if found else np.nan


def _subgroups(
    instrument, pairs: pd.DataFrame, classified: pd.DataFrame, cohort: pd.DataFrame, doses: pd.DataFrame
) -> list[SubgroupRow]:
    frame = pairs.merge(cohort[["patient_id", "age"]], on="patient_id", how="left").merge(
        doses[["patient_id", "route", "sessions"]], on="patient_id", how="left"
    )
    frame.index = pairs.index
    frame["response"] = classified.get("response")
    dimensions = {
        "Route": frame["route"].fillna("").replace("", "no dose recorded").map(lambda r: ROUTE_LABELS.get(r, r)),
        "Age band": _each_value(frame["age"], age_band),
        "Baseline severity": _each_value(
            frame["total_baseline"], lambda total: getattr(instrument.band_for(total), "name", "outside the bands")
        ),
        "Dosing sessions": _each_value(frame["sessions"].fillna(0), session_band),
    }
    rows = []
    for dimension, labels in dimensions.items():
        for label in sorted(labels.dropna().unique()):
            members = frame[labels == label]
            known = members["response"].dropna()
            rows.append(
                SubgroupRow(
                    dimension,
                    label,
                    paired_comparison(members["total_baseline"], members["total_end"]),
                    wilson_rate(int(known.astype(bool).sum()), len(known)) if len(known) else None,
                )
            )
    return rows


def _trajectory_points(
    assessments: pd.DataFrame, instrument_id: str, doses: pd.DataFrame
) -> tuple[pd.DataFrame, list[str], int]:
    """The instrument's questionnaires on the dosing timeline with their position (NaN when they have none, see
    the module docstring); what the model leaves out of them, in words with its N; and how many questionnaires
    are off the timeline."""
    mine = assessments[assessments["instrument_id"] == instrument_id]
    occasion = mine["occasion"]
    pre = _each_value(occasion, _pre_dosing_number).astype(float)
    baseline, end = occasion == "baseline", occasion == "end_of_course"
    on_timeline = baseline | pre.notna() | end
    session = pd.Series(np.nan, index=mine.index)
    session[baseline] = 0
    session[pre.notna()] = pre[pre.notna()] - 1
    session[end] = mine.loc[end, "patient_id"].map(doses.set_index("patient_id")["sessions"])
    undosed_end = end & session.isna()
    left_out = []
    if undosed_end.any():
        left_out.append(
            f"{_counted(int(undosed_end.sum()), 'end-of-course questionnaire')} of "
            f"{_counted(mine.loc[undosed_end, 'patient_id'].nunique(), 'patient')} given no dose in the course, "
            "so with no position on the dosing timeline"
        )
    points = pd.DataFrame({"patient": mine["patient_id"], "session": session, "score": mine["total"]})
    return points[on_timeline], left_out, int((~on_timeline).sum())


def _instrument_outcomes(
    cohort: pd.DataFrame, doses: pd.DataFrame, assessments: pd.DataFrame
) -> tuple[list[InstrumentOutcome], list[str]]:
    """The outcome of each symptom questionnaire, and the missing-data statements."""
    outcomes, missing = [], []
    for instrument_id in sorted(assessments["instrument_id"].unique()):
        try:
            instrument = get_instrument(instrument_id)
        except UnknownInstrument:
            continue
        if not instrument.definition.get("change"):
            continue  # not a symptom measure (e.g. C-SSRS screener, EBI): no change to classify
        both_ends = _baseline_and_end(
            assessments[assessments["instrument_id"] == instrument_id], "total", ["completed_at", "assessment_id"]
        )
        pairs = both_ends.dropna(subset=["total_baseline"])
        missing_baseline = len(both_ends) - len(pairs)
        complete = pairs.dropna(subset=["total_end"])
        missing += _missing_statements(instrument.short_name, len(pairs), missing_baseline, len(pairs) - len(complete))
        if pairs.empty:
            continue
        rates, method, classified = _change_rates(instrument_id, complete)
        points, left_out, off_timeline = _trajectory_points(assessments, instrument_id, doses)
        trajectory = mixed_trajectory(points)
        if left_out:
            missing.append(
                f"{instrument.short_name} trajectory: the model used {trajectory.observations} of the "
                f"{len(points)} questionnaires on the dosing timeline; left out: {'; '.join(left_out)}."
            )
        means = [
            (int(position), mean_with_ci(group["score"]))
            for position, group in points.dropna(subset=["session"]).groupby("session")
        ]
        outcome = InstrumentOutcome(
            instrument_id=instrument_id,
            name=instrument.short_name,
            n_baseline=len(pairs),
            n_end=int(both_ends["total_end"].notna().sum()),
            comparison=paired_comparison(pairs["total_baseline"], pairs["total_end"]),
            rates=rates,
            reliable_change_method=method,
            subgroups=_subgroups(instrument, complete, classified, cohort, doses),
            trajectory=trajectory,
            trajectory_means=means,
            missing_baseline=missing_baseline,
            trajectory_questionnaires=len(points),
            trajectory_left_out=left_out,
            off_timeline=off_timeline,
        )
        outcome.chart_svg = charts.trajectory_svg(outcome)
        outcomes.append(outcome)
    return outcomes, missing


def _creativity(cohort: pd.DataFrame, course_doses: pd.DataFrame) -> tuple[list[ScoreChange], list[str], int]:
    """Each creativity score's change, the missing-data statements, and the tasks left out as unattributable."""
    scores = selectors.creativity_frame()
    scores, unattributable = _linked_to_course(scores[scores["patient_id"].isin(cohort["patient_id"])], cohort)
    scores, late = _baselines_before_first_dose(scores, course_doses, time_column="submitted_at")
    changes, missing = [], _late_baseline_statements(late["task"].str.upper())
    for task, column, label in CREATIVITY_SCORES:
        mine = scores[(scores["task"] == task) & scores[column].notna()]
        both_ends = _baseline_and_end(mine, column, ["submitted_at"])
        pairs = both_ends.dropna(subset=[f"{column}_baseline"])
        missing_baseline = len(both_ends) - len(pairs)
        comparison = paired_comparison(pairs[f"{column}_baseline"], pairs[f"{column}_end"])
        missing += _missing_statements(label, len(pairs), missing_baseline, len(pairs) - comparison.n)
        if not pairs.empty:
            changes.append(ScoreChange(label, len(pairs), comparison, missing_baseline))
    return changes, missing, unattributable


def _safety(cohort: pd.DataFrame, doses: pd.DataFrame) -> SafetySummary:
    counts = _of_course(selectors.safety_frame(), cohort).drop(columns="group_id")
    frame = doses.merge(counts, on="patient_id", how="left").fillna(
        {"adverse_events": 0, "severe_events": 0, "bp_alert_sessions": 0}
    )
    sessions = int(frame["sessions"].sum()) if len(frame) else 0
    by_route = []
    for route, group in frame.groupby(frame["route"].replace("", "not recorded")):
        route_sessions = int(group["sessions"].sum())
        by_route.append(
            (
                ROUTE_LABELS.get(route, route),
                per_100_sessions(int(group["adverse_events"].sum()), route_sessions),
                per_100_sessions(int(group["bp_alert_sessions"].sum()), route_sessions),
            )
        )
    return SafetySummary(
        sessions=sessions,
        patients=len(frame),
        adverse_events=per_100_sessions(int(frame["adverse_events"].sum()) if len(frame) else 0, sessions),
        severe_events=per_100_sessions(int(frame["severe_events"].sum()) if len(frame) else 0, sessions),
        bp_alert_sessions=per_100_sessions(int(frame["bp_alert_sessions"].sum()) if len(frame) else 0, sessions),
        by_route=by_route,
    )


def _adherence(cohort: pd.DataFrame) -> AdherenceSummary:
    windows = selectors.adherence_frame(cohort["patient_id"].tolist() if len(cohort) < 900 else None)
    windows = _of_course(windows, cohort)
    counts = _counts(windows["adherence"], Adherence.LABELS, order=ADHERENCE_ORDER)
    still_open = windows["adherence"] == Adherence.OPEN
    closed = windows[~still_open]
    done = int(closed["adherence"].isin([Adherence.WITHIN_48H, Adherence.WITHIN_72H]).sum())
    return AdherenceSummary(
        windows=len(windows),
        counts=counts,
        completed_in_window=wilson_rate(done, len(closed)) if len(closed) else None,
        open_windows=len(windows) - len(closed),
        next_close=windows.loc[still_open, "closes_at"].min() if still_open.any() else None,
    )


def _trajectory_note(instruments: list[InstrumentOutcome]) -> str:
    note = (
        "Trajectories: a linear mixed-effects model (total ~ dosing sessions received, random intercept per "
        f"patient, REML), fitted with statsmodels MixedLM for up to {STATSMODELS_MAX_PATIENTS:,} patients."
    )
    if any(o.trajectory and o.trajectory.fitted_with.startswith("vectorised") for o in instruments):
        note += (
            " Larger ones are fitted with a vectorised REML fit of the same model, checked against MixedLM: "
            "MixedLM's time grows with the patients (about 2 s per questionnaire at 2,000; on 10,000 synthetic "
            "patients 4 to 18 s on this server, against 0.01 s), too slow for a report that fits one model per "
            "questionnaire."
        )
    return note


def build_report(filters: selectors.ReportFilters | None = None, *, facilitator_label: str = "") -> OutcomesReport:
    filters = filters or selectors.ReportFilters()
    cohort, cohort_changes_at = _cohort(filters)
    ids = set(cohort["patient_id"])
    course_doses = _course_doses(cohort)
    doses = _doses(course_doses)
    screening = selectors.screening_frame()
    screening = screening[screening["patient_id"].isin(ids)]
    assessments = selectors.assessment_frame()
    assessments, unattributable_questionnaires = _linked_to_course(
        assessments[assessments["patient_id"].isin(ids)], cohort
    )
    assessments, late_baselines = _baselines_before_first_dose(
        assessments,
        course_doses,
        time_column="completed_at",
        day_only=assessments["source"] == Assessment.Source.STAFF_TOTAL,
    )
    instruments, missing_data = _instrument_outcomes(cohort, doses, assessments)
    missing_data = _late_baseline_statements(late_baselines["instrument_id"].map(_short_name)) + missing_data
    creativity, creativity_missing, unattributable_tasks = _creativity(cohort, course_doses)
    missing_data += creativity_missing
    if unattributable_questionnaires or unattributable_tasks:
        missing_data.append(
            f"{_counted(unattributable_questionnaires, 'questionnaire')} and "
            f"{_counted(unattributable_tasks, 'creativity task')} linked to no course are left out: their patient "
            "has more than one course, so they could belong to either."
        )
    notes = [
        "Each patient is reported on one course: their earliest that passes the filters. Doses, safety events, "
        "integration windows, questionnaires and creativity tasks of their other courses are not counted.",
        "Patients: everyone enrolled in a course (enrolled, completed or withdrawn); withdrawals stay in the "
        "denominators, so missing end-of-course questionnaires are counted as missing, never imputed.",
        "Cohen's d is d_av: the mean change divided by the mean of the baseline and end SDs (Lakens 2013); d_z "
        "(mean change / SD of the changes) is shown beside it. Negative values mean fewer symptoms.",
        "Confidence intervals are 95%: t-based for means, Wilson for rates, exact Poisson for events per 100 "
        "sessions. Paired t-tests are two-sided.",
        _trajectory_note(instruments),
    ]
    report = OutcomesReport(
        generated_at=timezone.now(),
        filters=filters.describe(facilitator_label),
        filters_for_research=filters.describe(facilitator_label, site_coded=True),
        cohort=len(cohort),
        table1=_table1(cohort),
        table2=_table2(cohort, doses, course_doses, screening),
        instruments=instruments,
        safety=_safety(cohort, doses),
        adherence=_adherence(cohort),
        creativity=creativity,
        notes=notes,
        missing_data=missing_data,
    )
    report.dore = dore.build(assessments, cohort, doses, classifier=_chart_rule)
    report.long_term_safety = _long_term_safety(cohort)
    report.overview_svg = charts.overview_svg(report)
    report.valid_until = min(
        (at for at in (cohort_changes_at, report.adherence.next_close) if at is not None), default=None
    )
    return report


def _chart_rule(instrument_id: str):
    try:
        return change_rule(get_instrument(instrument_id)).classify
    except ScoringError:
        return None


# The long-term safety follow-up's flags (instruments/kset-followup.yaml), in the order the form asks them.
SAFETY_DOMAINS = (
    ("urinary", "Urinary or bladder symptoms"),
    ("cognitive", "New or worse cognitive complaints"),
    ("craving_or_use", "Craving, or use outside the clinic"),
    ("dissociation_between_sessions", "Dissociation between sessions"),
    ("other", "Another new change"),
)


# Where the forms outside the course plan sort: after the plan's checks and follow-ups, the extra check-ins last.
_OTHER_OCCASIONS, _EXTRA_CHECK_INS = 2000, 3000


def _safety_occasion(occasion: str, occasion_label: str) -> tuple[int, str]:
    """Sort key and label: the checks after dosing sessions in order, then the follow-ups, then any other occasion
    by the label its form carries (a practice's own plan, or an older row's code), then the extra check-ins staff
    sent between the planned ones (Assessment.AD_HOC, whose older rows were labelled "Unscheduled")."""
    if occasion.startswith("long_term_safety_") and occasion.rsplit("_", 1)[1].isdigit():
        n = int(occasion.rsplit("_", 1)[1])
        return n, f"After dosing session {n}"
    months = {"follow_up_1m": 1, "follow_up_3m": 3, "follow_up_6m": 6}
    if occasion in months:
        return 1000 + months[occasion], f"{months[occasion]}-month follow-up"
    if occasion == Assessment.AD_HOC:
        return _EXTRA_CHECK_INS, "Extra check-ins between the planned ones"
    return _OTHER_OCCASIONS, Assessment.describe_occasion(occasion, occasion_label)


def _completed_between(completed: pd.Series) -> str:
    """ "completed 3 Feb 2027", or "completed 3 Feb 2027 to 9 Mar 2027": when a group of unplanned forms was
    answered, since no plan says when."""
    days = sorted({timezone.localtime(moment.to_pydatetime()).date() for moment in completed})
    first, last = (f"{day.day} {day:%b %Y}" for day in (days[0], days[-1]))
    return f"completed {first}" if first == last else f"completed {first} to {last}"


def _long_term_safety(cohort: pd.DataFrame) -> list[TableSection]:
    """The longitudinal safety table: at each follow-up point, the forms answered and how many reported each domain;
    then the urine drug screens. Forms of the reported course, or unlinked ones of patients with no other course."""
    forms, _ = _linked_to_course(
        selectors.long_term_safety_frame(with_answers=False).pipe(
            lambda f: f[f["patient_id"].isin(cohort["patient_id"])]
        ),
        cohort,
    )
    sections = []
    if not forms.empty:
        points = [
            _safety_occasion(occasion, label)
            for occasion, label in zip(forms["occasion"], forms["occasion_label"], strict=True)
        ]
        keyed = forms.assign(point=points)
        for (order, label), group in sorted(keyed.groupby("point"), key=lambda item: item[0]):
            if order >= _OTHER_OCCASIONS:
                label = f"{label}, {_completed_between(group['completed_at'])}"
            n = len(group)
            counts = [
                CountRow(name, int(group["flags"].map(lambda flags, flag=flag: flag in flags).sum()), n)
                for flag, name in SAFETY_DOMAINS
            ]
            counts.append(CountRow("Any of these", int(group["flags"].map(bool).sum()), n))
            sections.append(TableSection(f"Long-term safety follow-up: {label}", n=n, unit="forms", counts=counts))
    screens = selectors.urine_toxicology_frame()
    screens = screens[screens["patient_id"].isin(cohort["patient_id"])]
    if not screens.empty:
        unexpected = [
            bool(set(found) - set(prescribed))
            for found, prescribed in zip(screens["substances_found"], screens["prescribed_found"], strict=True)
        ]
        n = len(screens)
        sections.append(
            TableSection(
                "Urine drug screens",
                n=n,
                unit="screens",
                counts=[
                    CountRow("Negative", int((screens["result"] == "negative").sum()), n),
                    CountRow("Positive for a substance not prescribed", int(sum(unexpected)), n),
                    CountRow(
                        "Positive for prescribed substances only",
                        int((screens["result"] == "positive").sum()) - int(sum(unexpected)),
                        n,
                    ),
                    CountRow("Invalid", int((screens["result"] == "invalid").sum()), n),
                ],
                note="Every screen of these patients, at any time (not limited to the course).",
            )
        )
    return sections
