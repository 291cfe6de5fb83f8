"""No report singles out a patient: a researcher sees no count, mean or subgroup below the practice's minimum cell
size, and filters by time since first dose, never by real dates (issue 16, finding 2)."""

import pytest
from django.urls import reverse

from kapstone.accounts.roles import Role
from kapstone.outcomes import practice_settings, selectors, suppression
from kapstone.outcomes.forms import ReportFilterForm
from kapstone.outcomes.render import report_html
from kapstone.outcomes.report import build_report
from tests.conftest import make_user, signed_in_client
from tests.outcomes.factories import build_practice

pytestmark = pytest.mark.django_db


@pytest.fixture
def researcher():
    return make_user("rita.research", Role.RESEARCHER)


@pytest.fixture
def admin():
    return make_user("adam.admin", Role.ADMIN)


def test_the_minimum_cell_size_is_a_practice_setting_that_cannot_go_below_11():
    [spec] = practice_settings.SETTINGS
    assert spec.key == "outcomes.minimum_cell_size" and spec.default == 11 and spec.hard_min == 11
    assert "Cell Size Suppression Policy" in spec.hard_source
    assert spec.within_hard_bounds(1) == 11
    assert selectors.minimum_cell_size() == 11


def test_a_researchers_report_of_fewer_patients_than_the_minimum_shows_nothing(researcher):
    build_practice(6)
    response = signed_in_client(researcher).get(reverse("outcomes:report"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "fewer than 11 patients" in page
    assert "Table 1" not in page and "Cohen" not in page


def test_the_researchers_pdf_is_suppressed_as_the_page_is(researcher):
    build_practice(6)
    response = signed_in_client(researcher).get(reverse("outcomes:report_pdf"))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    report = suppression.for_researcher(build_report(), 11)
    html = report_html(report)
    assert "fewer than 11 patients" in html and "Table 1" not in html


def test_staff_who_run_the_practice_still_see_the_whole_report(admin):
    build_practice(6)
    page = signed_in_client(admin).get(reverse("outcomes:report")).content.decode()
    assert "Table 1" in page and "fewer than 11" not in page


def test_a_researcher_cannot_filter_by_real_dates_or_facilitator(researcher):
    practice = build_practice(6)
    form = ReportFilterForm({"date_from": "2025-03-01", "facilitator_id": practice.staff["prescriber"].pk}, min_cell=11)
    assert form.is_valid()
    assert {"date_from", "date_to", "facilitator_id"}.isdisjoint(form.fields)
    filters = form.filters()
    assert filters.date_from is None and filters.facilitator_id is None
    # Only templates holding at least the minimum are offered: this one holds 6.
    assert [value for value, _ in form.fields["template_id"].choices] == [""]


def test_a_researcher_filters_by_time_since_first_dose(researcher):
    build_practice(6)
    assert build_report(selectors.ReportFilters(months_since_first_dose=1)).cohort == 6
    assert build_report(selectors.ReportFilters(months_since_first_dose=240)).cohort == 0
    page = signed_in_client(researcher).get(reverse("outcomes:report"), {"months_since_first_dose": "1"})
    assert "First dose at least" in page.content.decode()


def test_small_counts_means_subgroups_ranges_and_statements_are_withheld():
    build_practice(6)
    report = suppression.for_researcher(build_report(), 4)
    sex = next(section for section in report.table1 if section.title == "Sex")
    shown = [row for row in sex.counts if not row.suppressed]
    assert all(row.count >= 4 or row.count == 0 for row in shown)
    assert sum(row.suppressed for row in sex.counts) != 1  # one withheld count could be worked out from the total
    for section in report.table1 + report.table2:
        for summary in section.summaries:
            assert summary.estimate.n >= 4 and summary.minimum is None and summary.median is None
    for outcome in report.instruments:
        assert outcome.comparison.n >= 4
        assert all(row.comparison.n >= 4 for row in outcome.subgroups)
        assert all(mean.n >= 4 for _, mean in outcome.trajectory_means)
        for rate in [rate for _, rate in outcome.rates] + [row.response for row in outcome.subgroups]:
            if rate is None:
                continue  # withheld, or no rule to rate by
            assert rate.count >= 4 or rate.count == 0
            assert rate.n - rate.count >= 4 or rate.n == rate.count
    assert all(change.comparison.n >= 4 for change in report.creativity)
    html = report_html(report)
    assert "withheld" in html and "no count, mean, rate or subgroup of fewer than 4" in html


def test_a_withheld_rate_reads_withheld_not_as_missing_data():
    build_practice(6)
    report = suppression.for_researcher(build_report(), 4)
    withheld = [label for outcome in report.instruments for label, rate in outcome.rates if rate is None]
    withheld_subgroups = [row for outcome in report.instruments for row in outcome.subgroups if row.response_withheld]
    assert withheld or withheld_subgroups  # the practice of six has rates to withhold at a minimum of 4
    html = report_html(report)
    if withheld:
        assert "withheld (fewer than 4, or a total that would reveal one)</td>" in html
    if withheld_subgroups:
        assert "<td>withheld</td></tr>" in html
