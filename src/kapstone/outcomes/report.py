"""The practice outcomes report, in the manner of Dore et al. 2019 (J Psychoactive Drugs 51(2):189-198):
demographics, baseline clinical data, change per questionnaire with subgroups, trajectories, safety and
integration adherence. `build_report` gathers the data (selectors), computes (statistics) and returns a
plain dataclass that the HTML template, the PDF and the tests all read.

Missing data is never dropped silently: every analysis carries the N it used and how many were missing.
Only aggregates leave this module; no row describes one patient.

Definitions:
- Baseline = a patient's first completed `baseline` questionnaire; end of course = their last completed
  `end_of_course` one. Change = end - baseline (negative = fewer symptoms).
- Trajectory position = dosing sessions received before the questionnaire: 0 at baseline, n - 1 before
  dosing session n (`pre_dosing_n`), and the patient's number of dosing sessions at the end of course.
- Age = whole years at the start of the patient's first course.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from django.utils import timezone

from kapstone.dosing.models import Route
from kapstone.measures.change import classify_change
from kapstone.measures.scoring import UnknownInstrument, get_instrument
from kapstone.outcomes import selectors
from kapstone.outcomes.statistics import (
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

# Dosing-session bands for the subgroup table. Field Trip's courses had 4-6 dosing sessions (clinical.md,
# NCT05604794), so fewer and more are reported on either side of that.
SESSION_BANDS = ((1, 3, "1-3 sessions"), (4, 6, "4-6 sessions"), (7, None, "7 or more sessions"))
MAUDSLEY_FILE = Path(__file__).resolve().parents[1] / "screening" / "rules" / "maudsley.yaml"
ROUTE_LABELS = dict(Route.choices)
SEX_LABELS = dict(Sex.choices)
ADHERENCE_ORDER = ("within_48h", "within_72h", "late", "open")
# Creativity scores compared baseline to end of course (clinical.md: mean and top-2 originality per person,
# so fluency does not confound originality; DAT score per Olson et al. 2021).
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


@cache
def maudsley_bands() -> list[dict]:
    return yaml.safe_load(MAUDSLEY_FILE.read_text())["bands"]


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

    @property
    def percent(self) -> float | None:
        return None if self.of == 0 else 100 * self.count / self.of


@dataclass(frozen=True)
class SummaryRow:
    label: str
    estimate: MeanEstimate
    median: float | None = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass
class TableSection:
    title: str
    n: int
    missing: int = 0
    counts: list[CountRow] = field(default_factory=list)
    summaries: list[SummaryRow] = field(default_factory=list)
    note: str = ""


@dataclass(frozen=True)
class SubgroupRow:
    dimension: str
    label: str
    comparison: PairedComparison
    response: Rate | None


@dataclass
class InstrumentOutcome:
    instrument_id: str
    name: str
    n_baseline: int
    n_end: int
    comparison: PairedComparison
    rates: list[tuple[str, Rate]]
    reliable_change_method: str
    subgroups: list[SubgroupRow]
    trajectory: Trajectory | None = None
    trajectory_means: list[tuple[int, MeanEstimate]] = field(default_factory=list)
    chart_svg: str = ""

    @property
    def missing_end(self) -> int:
        return self.n_baseline - self.comparison.n


@dataclass(frozen=True)
class ScoreChange:
    label: str
    n_baseline: int
    comparison: PairedComparison


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
    overview_svg: str = ""

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


def _summary(label: str, values: pd.Series) -> SummaryRow:
    data = values.dropna().astype(float)
    if data.empty:
        return SummaryRow(label, mean_with_ci(data))
    return SummaryRow(label, mean_with_ci(data), float(data.median()), float(data.min()), float(data.max()))


def _cohort(filters: selectors.ReportFilters) -> pd.DataFrame:
    """One row per patient in the report, with their course, demographics and indication."""
    courses = selectors.course_frame()
    if filters.date_from:
        courses = courses[courses["course_start"] >= filters.date_from]
    if filters.date_to:
        courses = courses[courses["course_start"] <= filters.date_to]
    if filters.template_id:
        courses = courses[courses["template_id"] == filters.template_id]
    if filters.facilitator_id:
        courses = courses[courses["group_id"].isin(selectors.facilitator_groups(filters.facilitator_id))]
    patients = selectors.patient_frame(courses["patient_id"].tolist() if len(courses) < 900 else None)
    cohort = courses.merge(patients, on="patient_id", how="inner")
    if filters.indication:
        cohort = cohort[cohort["indication"] == filters.indication]
    cohort = cohort.reset_index(drop=True)
    if cohort.empty:
        cohort["age"] = pd.Series(dtype=float)
        return cohort
    cohort["age"] = age_in_years(
        pd.to_datetime(cohort["date_of_birth"]).to_numpy(), pd.to_datetime(cohort["course_start"]).to_numpy()
    )
    return cohort


def _doses(cohort: pd.DataFrame) -> pd.DataFrame:
    """Per patient: dosing sessions, the route used most, mean dose and mg/kg (weighted by sessions)."""
    summary = selectors.dose_summary_frame()
    summary = summary[summary["patient_id"].isin(cohort["patient_id"])]
    if summary.empty:
        return pd.DataFrame(columns=["patient_id", "sessions", "route", "mean_dose_mg", "mean_mg_per_kg"])
    summary = summary.assign(
        dose_total=summary["mean_dose_mg"] * summary["sessions"],
        mg_per_kg_total=summary["mean_mg_per_kg"] * summary["sessions"],
    )
    per_patient = summary.groupby("patient_id").agg(
        sessions=("sessions", "sum"), dose_total=("dose_total", "sum"), mg_per_kg_total=("mg_per_kg_total", "sum")
    )
    main_route = summary.sort_values(["patient_id", "sessions"]).drop_duplicates("patient_id", keep="last")
    per_patient["route"] = main_route.set_index("patient_id")["route"]
    per_patient["mean_dose_mg"] = per_patient["dose_total"] / per_patient["sessions"]
    per_patient["mean_mg_per_kg"] = per_patient["mg_per_kg_total"] / per_patient["sessions"]
    return per_patient.reset_index()[["patient_id", "sessions", "route", "mean_dose_mg", "mean_mg_per_kg"]]


def _table1(cohort: pd.DataFrame) -> list[TableSection]:
    n = len(cohort)
    ages = cohort["age"]
    return [
        TableSection(
            "Age at the start of the course (years)",
            n=int(ages.notna().sum()),
            missing=int(ages.isna().sum()),
            summaries=[_summary("Age", ages)],
            counts=_counts(ages.map(age_band), by_label=True),
        ),
        TableSection("Sex", n=n, counts=_counts(cohort["sex"], SEX_LABELS)),
        TableSection(
            "Gender identity (as recorded)",
            n=n,
            counts=_counts(cohort["gender_identity"].fillna("").str.strip().str.lower().replace("", "not recorded")),
        ),
    ]


def _table2(cohort: pd.DataFrame, doses: pd.DataFrame, screening: pd.DataFrame) -> list[TableSection]:
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
            "Dose (mean per patient)",
            n=len(with_doses),
            missing=n - len(with_doses),
            summaries=[
                _summary("Dose (mg)", with_doses["mean_dose_mg"]),
                _summary("Dose (mg/kg)", with_doses["mean_mg_per_kg"]),
            ],
        ),
        TableSection(
            "Dosing sessions per patient",
            n=n,
            summaries=[_summary("Dosing sessions", session_counts)],
            counts=_counts(session_counts.map(session_band), by_label=True),
        ),
        TableSection("Course template", n=n, counts=_counts(cohort["template_id"])),
    ]


def _first_and_last(assessments: pd.DataFrame, instrument_id: str) -> pd.DataFrame:
    mine = assessments[assessments["instrument_id"] == instrument_id].sort_values("completed_at")
    baseline = mine[mine["occasion"] == "baseline"].drop_duplicates("patient_id", keep="first")
    end = mine[mine["occasion"] == "end_of_course"].drop_duplicates("patient_id", keep="last")
    return baseline[["patient_id", "total"]].merge(
        end[["patient_id", "total"]], on="patient_id", how="left", suffixes=("_baseline", "_end")
    )


def _change_rates(instrument_id: str, pairs: pd.DataFrame) -> tuple[list[tuple[str, Rate]], str, pd.DataFrame]:
    """Response, remission and reliable change per pair, by the measures app's own rules."""
    classified = [
        classify_change(instrument_id, baseline, end)
        for baseline, end in zip(pairs["total_baseline"], pairs["total_end"], strict=True)
    ]
    frame = pd.DataFrame(classified, index=pairs.index)
    # The response threshold is the instrument's own cited rule, so the label reads it from there.
    response_rule = (get_instrument(instrument_id).definition.get("change") or {}).get("response") or {}
    labels = dict(CHANGE_RATES)
    if "min_reduction" in response_rule:
        labels["response"] = f"Response (at least {response_rule['min_reduction']:.0%} reduction)"
    rates = []
    for key, _ in CHANGE_RATES:
        known = frame[key].dropna() if key in frame else pd.Series(dtype=bool)
        if len(known) or frame.empty:
            rates.append((labels[key], wilson_rate(int(known.astype(bool).sum()), len(known))))
    methods = sorted(set(frame["reliable_change_method"].dropna())) if not frame.empty else []
    method = {
        "jacobson_truax": "Jacobson & Truax reliable change index (|RCI| > 1.96)",
        "fixed_threshold": "the instrument's fixed reliable-change threshold",
    }
    return rates, ", ".join(method.get(m, m) for m in methods), frame


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
        "Age band": frame["age"].map(age_band),
        "Baseline severity": frame["total_baseline"].map(
            lambda total: getattr(instrument.band_for(total), "name", "outside the bands")
        ),
        "Dosing sessions": frame["sessions"].fillna(0).map(session_band),
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


def _trajectory_points(assessments: pd.DataFrame, instrument_id: str, doses: pd.DataFrame) -> pd.DataFrame:
    mine = assessments[assessments["instrument_id"] == instrument_id]
    occasion = mine["occasion"]
    session = pd.Series(np.nan, index=mine.index)
    session[occasion == "baseline"] = 0
    pre = occasion.str.extract(r"^pre_dosing_(\d+)$")[0].astype(float)
    session[pre.notna()] = pre[pre.notna()] - 1
    sessions_of = doses.set_index("patient_id")["sessions"]
    end = occasion == "end_of_course"
    session[end] = mine.loc[end, "patient_id"].map(sessions_of)
    return pd.DataFrame({"patient": mine["patient_id"], "session": session, "score": mine["total"]})


def _instrument_outcomes(
    cohort: pd.DataFrame, doses: pd.DataFrame, assessments: pd.DataFrame
) -> list[InstrumentOutcome]:
    from kapstone.outcomes import charts

    outcomes = []
    for instrument_id in sorted(assessments["instrument_id"].unique()):
        try:
            instrument = get_instrument(instrument_id)
        except UnknownInstrument:
            continue
        if not instrument.definition.get("change"):
            continue  # not a symptom measure (e.g. C-SSRS screener, EBI): no change to classify
        pairs = _first_and_last(assessments, instrument_id)
        if pairs.empty:
            continue
        complete = pairs.dropna(subset=["total_end"])
        rates, method, classified = _change_rates(instrument_id, complete)
        points = _trajectory_points(assessments, instrument_id, doses)
        trajectory = mixed_trajectory(points)
        means = [
            (int(position), mean_with_ci(group["score"]))
            for position, group in points.dropna(subset=["session"]).groupby("session")
        ]
        outcome = InstrumentOutcome(
            instrument_id=instrument_id,
            name=instrument.short_name,
            n_baseline=len(pairs),
            n_end=len(complete),
            comparison=paired_comparison(pairs["total_baseline"], pairs["total_end"]),
            rates=rates,
            reliable_change_method=method,
            subgroups=_subgroups(instrument, complete, classified, cohort, doses),
            trajectory=trajectory,
            trajectory_means=means,
        )
        outcome.chart_svg = charts.trajectory_svg(outcome)
        outcomes.append(outcome)
    return outcomes


def _creativity(ids: set) -> list[ScoreChange]:
    scores = selectors.creativity_frame()
    scores = scores[scores["patient_id"].isin(ids)].sort_values("submitted_at")
    changes = []
    for task, column, label in CREATIVITY_SCORES:
        mine = scores[(scores["task"] == task) & scores[column].notna()]
        baseline = mine[mine["occasion"] == "baseline"].drop_duplicates("patient_id", keep="first")
        end = mine[mine["occasion"] == "end_of_course"].drop_duplicates("patient_id", keep="last")
        if baseline.empty:
            continue
        pairs = baseline[["patient_id", column]].merge(
            end[["patient_id", column]], on="patient_id", how="left", suffixes=("_baseline", "_end")
        )
        comparison = paired_comparison(pairs[f"{column}_baseline"], pairs[f"{column}_end"])
        changes.append(ScoreChange(label, len(pairs), comparison))
    return changes


def _safety(cohort: pd.DataFrame, doses: pd.DataFrame) -> SafetySummary:
    counts = selectors.safety_frame()
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
    from kapstone.integration.window import Adherence

    windows = selectors.adherence_frame(cohort["patient_id"].tolist() if len(cohort) < 900 else None)
    windows = windows[windows["patient_id"].isin(cohort["patient_id"])]
    counts = _counts(windows["adherence"], Adherence.LABELS, order=ADHERENCE_ORDER)
    closed = windows[windows["adherence"] != Adherence.OPEN]
    done = int(closed["adherence"].isin([Adherence.WITHIN_48H, Adherence.WITHIN_72H]).sum())
    return AdherenceSummary(
        windows=len(windows),
        counts=counts,
        completed_in_window=wilson_rate(done, len(closed)) if len(closed) else None,
        open_windows=len(windows) - len(closed),
    )


def build_report(filters: selectors.ReportFilters | None = None, *, facilitator_label: str = "") -> OutcomesReport:
    filters = filters or selectors.ReportFilters()
    cohort = _cohort(filters)
    ids = set(cohort["patient_id"])
    doses = _doses(cohort)
    screening = selectors.screening_frame()
    screening = screening[screening["patient_id"].isin(ids)]
    assessments = selectors.assessment_frame()
    assessments = assessments[assessments["patient_id"].isin(ids)]
    instruments = _instrument_outcomes(cohort, doses, assessments)
    notes = [
        "Patients: everyone enrolled in a course (enrolled, completed or withdrawn); withdrawals stay in the "
        "denominators, so missing end-of-course questionnaires are counted as missing, never imputed.",
        "Cohen's d is d_av: the mean change divided by the mean of the baseline and end SDs (Lakens 2013); d_z "
        "(mean change / SD of the changes) is shown beside it. Negative values mean fewer symptoms.",
        "Confidence intervals are 95%: t-based for means, Wilson for rates, exact Poisson for events per 100 "
        "sessions. Paired t-tests are two-sided.",
    ]
    from kapstone.outcomes import charts

    report = OutcomesReport(
        generated_at=timezone.now(),
        filters=filters.describe(facilitator_label),
        cohort=len(cohort),
        table1=_table1(cohort),
        table2=_table2(cohort, doses, screening),
        instruments=instruments,
        safety=_safety(cohort, doses),
        adherence=_adherence(cohort),
        creativity=_creativity(ids),
        notes=notes,
    )
    report.overview_svg = charts.overview_svg(report)
    return report
