"""The "Dore 2019" table: the practice's own BDI-II and HAM-A results set beside the figures Dore et al. 2019
published (data/dore_2019.yaml), overall and by route, age group, baseline severity, site and setting of dosing.

Each row is the paired comparison of the statistics module (baseline and end means with SD, mean change with its
t-based 95% CI, Student's paired t-test, Cohen's d for paired data) over the patients with both a baseline and an
end-of-course total of the reported course. Reliable improvement is judged by the measures app's own rule, the one
the patient's chart uses (measures.selectors.change_rule). Every patient left out is stated with the reason and N.
The functions here take frames, not the database, so the table can be checked against a synthetic practice built
to the paper's summary statistics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pandas as pd
import yaml

from kapstone.dosing.models import Route
from kapstone.measures.scoring import Instrument, get_instrument
from kapstone.outcomes.statistics import PairedComparison, Rate, age_band, paired_comparison, wilson_rate
from kapstone.program.models import GroupSession

DORE_FILE = Path(__file__).parent / "data" / "dore_2019.yaml"
INSTRUMENTS = ("bdi-ii", "ham-a")
NOT_RECORDED = "not recorded"
SITE_DIMENSION = "Site"


@cache
def published() -> dict:
    return yaml.safe_load(DORE_FILE.read_text(encoding="utf-8"))


@dataclass
class DoreRow:
    dimension: str  # "" for every patient
    label: str
    comparison: PairedComparison
    reliable_improvement: Rate | None = None


@dataclass
class DoreInstrument:
    instrument_id: str
    name: str
    published: dict
    rows: list[DoreRow]
    exclusions: list[str] = field(default_factory=list)
    baseline_band: str = ""  # the band of the mean baseline total, as the paper puts "moderate to mild"
    end_band: str = ""
    reliable_change_method: str = ""

    @property
    def overall(self) -> DoreRow:
        return self.rows[0]


@dataclass
class DoreTable:
    instruments: list[DoreInstrument]
    published_patients: int
    study: str
    subgroup_statement: str
    effect_size_statement: str
    # Why there is no table at all (no BDI-II or HAM-A data), in words.
    empty_reason: str = ""
    withheld: list[str] = field(default_factory=list)  # instruments left out for a researcher (too few patients)


def _band(instrument: Instrument, mean: float | None) -> str:
    if mean is None:
        return ""
    band = instrument.band_for(round(mean))
    return band.name if band else ""


def _counted(count: int, noun: str) -> str:
    return f"{count} patient{'' if count == 1 else 's'} {noun}"


def instrument_table(
    instrument_id: str,
    assessments: pd.DataFrame,
    cohort: pd.DataFrame,
    per_patient: pd.DataFrame,
    *,
    classify: Callable[[float, float], dict | None] | None = None,
) -> DoreInstrument | None:
    """One instrument's rows. `assessments`: the course's completed totals (assessment_id, patient_id, instrument_id,
    occasion, total, completed_at); `cohort`: patient_id and age; `per_patient`: patient_id with route, site and
    dosing_setting of most of their doses (blank when none). None when no patient has either total."""
    instrument = get_instrument(instrument_id)
    # Ties broken by id, so two totals entered for one day (both at noon) give the same baseline every time. The last
    # baseline, as in the report's change tables: the caller has already left out those after the first dose.
    mine = assessments[assessments["instrument_id"] == instrument_id].sort_values(
        ["completed_at", "assessment_id"], kind="stable"
    )
    baseline = mine[mine["occasion"] == "baseline"].drop_duplicates("patient_id", keep="last")
    end = mine[mine["occasion"] == "end_of_course"].drop_duplicates("patient_id", keep="last")
    if baseline.empty and end.empty:
        return None
    both = baseline[["patient_id", "total"]].merge(
        end[["patient_id", "total"]], on="patient_id", how="outer", suffixes=("_baseline", "_end")
    )
    pairs = both.dropna(subset=["total_baseline", "total_end"])
    exclusions = []
    only_baseline = int(both["total_end"].isna().sum())
    only_end = int(both["total_baseline"].isna().sum())
    neither = len(cohort) - len(both)
    if only_baseline:
        exclusions.append(_counted(only_baseline, "with a baseline but no end-of-course total"))
    if only_end:
        exclusions.append(_counted(only_end, "with an end-of-course total but no baseline"))
    if neither:
        exclusions.append(_counted(neither, f"in the report with no {instrument.short_name} at baseline or end"))

    frame = pairs.merge(cohort[["patient_id", "age"]], on="patient_id", how="left").merge(
        per_patient[["patient_id", "route", "site", "dosing_setting"]], on="patient_id", how="left"
    )
    improved = None
    if classify is not None:
        verdicts = [classify(b, e) or {} for b, e in zip(frame["total_baseline"], frame["total_end"], strict=True)]
        improved = pd.Series([v.get("reliable_improvement") for v in verdicts], index=frame.index)

    def row(dimension: str, label: str, members: pd.DataFrame) -> DoreRow:
        rate = None
        if improved is not None:
            known = improved[members.index].dropna()
            rate = wilson_rate(int(known.astype(bool).sum()), len(known)) if len(known) else None
        return DoreRow(dimension, label, paired_comparison(members["total_baseline"], members["total_end"]), rate)

    def text(column: str, labels: dict | None = None) -> pd.Series:
        values = frame[column].fillna("").astype(str).replace("", NOT_RECORDED)
        return values.map(lambda value: (labels or {}).get(value, value))

    dimensions = {
        "Route": text("route", dict(Route.choices)),
        "Age group": frame["age"].map(age_band),
        "Baseline severity": frame["total_baseline"].map(
            lambda total: getattr(instrument.band_for(total), "name", "outside the bands")
        ),
        SITE_DIMENSION: text("site"),
        "Setting": text("dosing_setting", dict(GroupSession.DosingSetting.choices)),
    }
    rows = [row("", "All patients with both totals", frame)]
    for dimension, labels in dimensions.items():
        for label in sorted(labels.unique()):
            rows.append(row(dimension, label, frame[labels == label]))
    overall = rows[0].comparison
    methods = {
        "jacobson_truax": "the Jacobson & Truax index with the practice's baseline SD, as on the patient's chart",
        "fixed_threshold": "the instrument's fixed threshold, as on the patient's chart",
    }
    method = ""
    if classify is not None and len(frame):
        first = classify(frame["total_baseline"].iloc[0], frame["total_end"].iloc[0]) or {}
        method = methods.get(first.get("reliable_change_method") or "", "not defined for this instrument")
    return DoreInstrument(
        instrument_id=instrument_id,
        name=instrument.short_name,
        published=published()["instruments"].get(instrument_id, {}),
        rows=rows,
        exclusions=exclusions,
        baseline_band=_band(instrument, overall.baseline.mean),
        end_band=_band(instrument, overall.end.mean),
        reliable_change_method=method,
    )


def build(
    assessments: pd.DataFrame,
    cohort: pd.DataFrame,
    per_patient: pd.DataFrame,
    *,
    classifier: Callable[[str], Callable[[float, float], dict | None] | None] = lambda instrument_id: None,
) -> DoreTable:
    data = published()
    instruments = [
        table
        for instrument_id in INSTRUMENTS
        if (
            table := instrument_table(
                instrument_id, assessments, cohort, per_patient, classify=classifier(instrument_id)
            )
        )
        is not None
    ]
    empty = ""
    if not instruments:
        empty = (
            "No BDI-II or HAM-A total at baseline or end of course for the patients in this report, so the practice's "
            "figures cannot be set beside Dore 2019. Enter the totals against the scheduled baseline and end-of-course "
            "questionnaires (assessment plan dore-2019)."
        )
    return DoreTable(
        instruments=instruments,
        published_patients=int(data["patients"]),
        study=" ".join(data["study"].split()),
        subgroup_statement=data["subgroups"]["statement"],
        effect_size_statement=" ".join(data["effect_size"]["statement"].split()),
        empty_reason=empty,
    )
