"""The "Dore 2019" table: its statistics against scipy and statsmodels, a synthetic practice built to the paper's
summary statistics, empty and sparse reports, suppression for researchers, the site and setting filters, and
reliable change judged exactly as on the patient's chart."""

import datetime

import numpy as np
import pandas as pd
import pytest
from django.conf import settings
from django.urls import reverse
from scipy import stats
from statsmodels.stats.weightstats import DescrStatsW

from kapstone.measures import selectors as measures_selectors
from kapstone.measures.models import Assessment
from kapstone.measures.scoring import get_instrument
from kapstone.outcomes import dore
from kapstone.outcomes.deidentify import site_code
from kapstone.outcomes.forms import ReportFilterForm
from kapstone.outcomes.report import build_report
from kapstone.outcomes.selectors import ReportFilters, site_for_research
from kapstone.outcomes.statistics import paired_comparison
from kapstone.outcomes.suppression import for_researcher
from kapstone.practice.settings_store import practice_value_set
from kapstone.program.models import GroupSession
from tests.conftest import signed_in_client
from tests.outcomes.factories import FIRST_DOSING, PHQ9_PAIRS, build_practice

# --- the statistics against scipy and statsmodels -----------------------------------------------------------

BASELINE = [29, 31, 22, 35, 27, 19, 40, 25, 33, 28]
END = [14, 20, 18, 16, 15, 17, 21, 9, 22, 13]


def test_the_paired_comparison_matches_scipy_and_statsmodels():
    result = paired_comparison(BASELINE, END)
    changes = np.array(END, float) - np.array(BASELINE, float)
    reference = stats.ttest_rel(END, BASELINE)
    low, high = DescrStatsW(changes).tconfint_mean(alpha=0.05)
    assert result.t == pytest.approx(reference.statistic) and result.p == pytest.approx(reference.pvalue)
    assert (result.difference.low, result.difference.high) == (pytest.approx(low), pytest.approx(high))
    assert result.baseline.sd == pytest.approx(np.std(BASELINE, ddof=1))
    # Cohen's d for paired data (Lakens 2013): d_z = mean change / SD of the changes, so t = d_z sqrt(N).
    assert result.cohens_d_z == pytest.approx(changes.mean() / changes.std(ddof=1))
    assert result.t == pytest.approx(result.cohens_d_z * np.sqrt(len(changes)))
    mean_sd = (np.std(BASELINE, ddof=1) + np.std(END, ddof=1)) / 2
    assert result.cohens_d_av == pytest.approx(changes.mean() / mean_sd)


# --- a synthetic practice built to the paper's summary statistics --------------------------------------------


def synthetic_dore_practice(patients: int = 235, seed: int = 2019):
    """235 patients whose BDI-II and HAM-A changes average -11.24 and -5.5 to the paper's rounding (totals are whole
    numbers: -2641/235 and -1292/235), spread over both routes, both settings, three sites and every age band."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, patients + 1)

    def pairs(baseline_mean, spread, mean_change, high):
        change_total = round(mean_change * patients)
        baseline = np.clip(np.round(rng.normal(baseline_mean, spread, patients)), 0, high).astype(int)
        change = np.round(rng.normal(change_total / patients, 6, patients)).astype(int)
        change[0] += change_total - change.sum()  # the exact published total change
        end = baseline + change
        # Keep every end total in range by moving change between patients, preserving the sum.
        for i in np.where((end < 0) | (end > high))[0]:
            shift = int(np.clip(end[i], 0, high) - end[i])
            end[i] += shift
            donor = next(j for j in range(patients) if 0 <= end[j] - shift <= high and j != i)
            end[donor] -= shift
        return baseline, end

    bdi = pairs(26, 8, -11.24, 63)
    ham = pairs(18, 6, -5.5, 56)
    when = pd.Timestamp("2024-01-01", tz="UTC")
    rows = []
    for instrument, (baseline, end) in (("bdi-ii", bdi), ("ham-a", ham)):
        for pid, b, e in zip(ids, baseline, end, strict=True):
            rows.append((pid, instrument, "baseline", float(b), when))
            rows.append((pid, instrument, "end_of_course", float(e), when + pd.Timedelta(days=60)))
    assessments = pd.DataFrame(rows, columns=["patient_id", "instrument_id", "occasion", "total", "completed_at"])
    assessments.insert(0, "assessment_id", range(1, len(assessments) + 1))  # as selectors.assessment_frame gives
    cohort = pd.DataFrame({"patient_id": ids, "age": rng.integers(18, 80, patients).astype(float)})
    per_patient = pd.DataFrame(
        {
            "patient_id": ids,
            "route": np.where(ids % 2, "im", "sublingual"),
            "site": np.array(["Practice A", "Practice B", "Practice C"])[ids % 3],
            "dosing_setting": np.where(ids % 4 == 0, "supervised_home", "office"),
        }
    )
    return assessments, cohort, per_patient


def test_a_synthetic_practice_built_to_the_paper_reproduces_the_published_table():
    table = dore.build(*synthetic_dore_practice())
    by_id = {item.instrument_id: item for item in table.instruments}
    for instrument_id in ("bdi-ii", "ham-a"):
        item = by_id[instrument_id]
        published = dore.published()["instruments"][instrument_id]
        assert item.overall.comparison.n == table.published_patients == 235
        assert round(item.overall.comparison.difference.mean, 2) == pytest.approx(published["mean_change"])
        assert item.overall.comparison.p < 0.0001 and published["p"] == "< 0.0001"
        assert item.exclusions == []
        dimensions = {row.dimension for row in item.rows}
        assert dimensions == {"", "Route", "Age group", "Baseline severity", "Site", "Setting"}
        assert sum(row.comparison.n for row in item.rows if row.dimension == "Site") == 235
    assert (by_id["bdi-ii"].baseline_band, by_id["bdi-ii"].end_band) == ("moderate", "mild")


def test_every_exclusion_is_stated_with_its_n():
    assessments, cohort, per_patient = synthetic_dore_practice(30)
    drop_end = assessments[~((assessments["patient_id"] <= 3) & (assessments["occasion"] == "end_of_course"))]
    drop_baseline = drop_end[~((drop_end["patient_id"] == 4) & (drop_end["occasion"] == "baseline"))]
    extra = pd.DataFrame({"patient_id": [99], "age": [40.0]})
    table = dore.build(drop_baseline, pd.concat([cohort, extra]), per_patient)
    assert table.instruments[0].exclusions == [
        "3 patients with a baseline but no end-of-course total",
        "1 patient with an end-of-course total but no baseline",
        "1 patient in the report with no BDI-II at baseline or end",
    ]
    assert table.instruments[0].overall.comparison.n == 26


def test_two_baselines_at_the_same_moment_give_the_later_entered_one_whatever_the_rows_order():
    """Totals entered for one day all stand at noon: the baseline is the last one (the report's rule), and of two at
    one moment the one entered last (the higher id), so the table is the same however the database returns the rows."""
    assessments, cohort, per_patient = synthetic_dore_practice(30)
    first = assessments[(assessments["patient_id"] == 1) & (assessments["occasion"] == "baseline")].iloc[0]
    later = first.copy()
    later["assessment_id"], later["total"] = assessments["assessment_id"].max() + 1, first["total"] + 20
    with_tie = pd.concat([assessments, later.to_frame().T.astype(assessments.dtypes)], ignore_index=True)
    moved = assessments.copy()
    moved.loc[moved["assessment_id"] == first["assessment_id"], "total"] = later["total"]
    expected = dore.build(moved, cohort, per_patient).instruments[0].overall.comparison.baseline.mean
    for rows in (with_tie, with_tie.iloc[::-1]):
        table = dore.build(rows, cohort, per_patient)
        assert table.instruments[0].overall.comparison.baseline.mean == pytest.approx(expected)


def test_no_bdi_ii_or_ham_a_data_says_so_instead_of_an_empty_table():
    assessments, cohort, per_patient = synthetic_dore_practice(5)
    table = dore.build(assessments[assessments["instrument_id"] == "phq9"], cohort, per_patient)
    assert table.instruments == [] and "No BDI-II or HAM-A total" in table.empty_reason


# --- the report, from the database ---------------------------------------------------------------------------


def _entered(patient, instrument_id, occasion, total, group, day):
    at = datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC)
    return Assessment.objects.create(
        patient=patient,
        group=group,
        instrument_id=instrument_id,
        occasion=occasion,
        due_at=at,
        status=Assessment.Status.COMPLETED,
        source=Assessment.Source.STAFF_TOTAL,
        total=total,
        completed_at=at,
    )


@pytest.fixture
def practice_with_bdi(db):
    practice = build_practice()
    start = FIRST_DOSING.date()
    for patient, (baseline, end) in zip(practice.patients, [(30, 15), (24, 20), (35, 12), (21, 21)], strict=False):
        _entered(patient, "bdi-ii", "baseline", baseline, practice.group, start - datetime.timedelta(days=7))
        _entered(patient, "bdi-ii", "end_of_course", end, practice.group, start + datetime.timedelta(days=30))
    GroupSession.objects.filter(group=practice.group).update(site="North clinic", dosing_setting="supervised_home")
    return practice


def test_the_report_has_the_dore_table_beside_the_published_figures(practice_with_bdi):
    report = build_report()
    item = report.dore.instruments[0]
    assert item.instrument_id == "bdi-ii" and item.overall.comparison.n == 4
    assert {row.label for row in item.rows if row.dimension == "Site"} == {"North clinic"}
    assert {row.label for row in item.rows if row.dimension == "Setting"} == {"Supervised at home"}
    assert "2 patients in the report with no BDI-II at baseline or end" in item.exclusions


@pytest.mark.parametrize("path", ["outcomes:report", "outcomes:report_pdf"])
def test_the_page_and_the_pdf_render_the_table(practice_with_bdi, path):
    response = signed_in_client(practice_with_bdi.staff["prescriber"]).get(reverse(path))
    assert response.status_code == 200
    if path == "outcomes:report":
        page = response.content.decode()
        assert "The practice beside Dore et al. 2019" in page and "-11.24" in page and "not published" in page
        assert "Site: North clinic" in page


def test_an_empty_practice_renders_and_says_there_is_no_bdi_ii_or_ham_a(db):
    build_practice()
    page = signed_in_client(_prescriber()).get(reverse("outcomes:report")).content.decode()
    assert "No BDI-II or HAM-A total" in page


def _prescriber():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="dr.outcomes")


def test_a_researcher_sees_no_dore_table_below_the_minimum_cell(practice_with_bdi):
    report = for_researcher(build_report(), 11)
    assert report.withheld or report.dore.instruments == []


def test_a_researcher_reads_each_site_by_its_export_code_in_the_table_and_the_filter(practice_with_bdi):
    """An admin may name a site after a person or a street: the research export codes it, and so does the report a
    researcher reads (its Dore rows, its filter's choices and the filter it names), with the same code."""
    code = site_for_research("North clinic")
    assert code.startswith("S-") and code == site_code(settings.RESEARCH_ID_KEY, "North clinic")
    report = for_researcher(build_report(ReportFilters(site="North clinic")), 2)
    assert f"dosed at {code}" in report.filters and not any("North" in part for part in report.filters)
    rows = {row.label for item in report.dore.instruments for row in item.rows if row.dimension == "Site"}
    assert rows == {code}
    form = ReportFilterForm({"site": code}, min_cell=2)
    assert form.is_valid(), form.errors
    assert form.filters().site == "North clinic"
    assert ("North clinic", "North clinic") not in form.fields["site"].choices
    assert not ReportFilterForm({"site": "North clinic"}, min_cell=2).is_valid()
    staff_form = ReportFilterForm({"site": "North clinic"})
    assert staff_form.is_valid() and staff_form.filters().site == "North clinic"


def test_the_site_and_setting_filters_narrow_the_courses(practice_with_bdi):
    assert build_report(ReportFilters(site="North clinic")).cohort == len(practice_with_bdi.patients)
    assert build_report(ReportFilters(site="Elsewhere")).cohort == 0
    assert build_report(ReportFilters(dosing_setting="office")).cohort == 0
    page = signed_in_client(_prescriber()).get(reverse("outcomes:report"), {"site": "Moon"})
    assert page.status_code == 400 or "Select a valid choice" in page.content.decode()


def test_reliable_change_in_the_report_is_the_charts(db):
    """PHQ-9 14 to 9 is reliable by the practice's baseline SD (Jacobson & Truax), not by the fixed 6 points: the
    chart and the report must agree."""
    practice_value_set(actor=None, key="measures.phq9.rci_minimum_baseline_n", value=5, reason="small practice")
    practice = build_practice()
    instrument = get_instrument("phq9")
    rule = measures_selectors.change_rule(instrument)
    assert rule.baseline_sample.usable  # the factory's baselines: SD about 3.5
    verdict = rule.classify(14, 9)
    assert verdict["reliable_change_method"] == "jacobson_truax" and verdict["reliable_improvement"]
    report = build_report()
    phq9 = next(o for o in report.instruments if o.instrument_id == "phq9")
    assert "Jacobson" in phq9.reliable_change_method
    improved = dict(phq9.rates)["Reliable improvement"]
    expected = sum(bool(rule.classify(b, e)["reliable_improvement"]) for b, e in PHQ9_PAIRS)
    assert improved.count == expected
    assert practice.patients
