"""The outcomes report: numbers checked against scipy on known data; renders with empty and sparse data."""

import datetime
import errno
import io
import pathlib
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from scipy import stats

from kapstone.audit.models import AuditEvent
from kapstone.creativity.models import CreativityAdministration
from kapstone.measures.models import Assessment
from kapstone.outcomes import statistics
from kapstone.outcomes.render import report_html
from kapstone.outcomes.report import build_report
from kapstone.outcomes.selectors import ReportFilters
from kapstone.patients.models import Patient
from kapstone.program.models import Enrolment, Group
from tests.outcomes.factories import GAD7_PAIRS, ORIGINALITY_PAIRS, PHQ9_PAIRS, TEMPLATE, build_practice

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"


def _outcome(report, instrument_id):
    return next(o for o in report.instruments if o.instrument_id == instrument_id)


def test_the_change_per_questionnaire_matches_scipy_on_the_known_totals():
    build_practice()
    report = build_report()
    assert report.cohort == len(PHQ9_PAIRS)
    phq9 = _outcome(report, "phq9")
    baseline, end = np.array(PHQ9_PAIRS, dtype=float).T
    expected = stats.ttest_rel(end, baseline)
    assert phq9.comparison.n == len(PHQ9_PAIRS)
    assert phq9.comparison.t == pytest.approx(expected.statistic)
    assert phq9.comparison.p == pytest.approx(expected.pvalue)
    assert phq9.comparison.baseline.mean == pytest.approx(baseline.mean())
    rates = dict(phq9.rates)
    # Response = at least 50% lower: 20->8, 22->4, 19->9. Remission = PHQ-9 below 5: 22->4.
    assert rates["Response (at least 50% reduction)"].count == 3
    assert rates["Remission (end-of-course total below 5)"].count == 1
    # The IAPT fixed threshold (6 points) decides reliable improvement: 20->8, 22->4, 19->9.
    assert rates["Reliable improvement"].count == 3
    assert _outcome(report, "gad7").comparison.n == len(GAD7_PAIRS)


def test_the_trajectory_places_questionnaires_by_dosing_sessions_received():
    build_practice()
    phq9 = _outcome(build_report(), "phq9")
    positions = [position for position, _ in phq9.trajectory_means]
    # baseline = 0, before dosing 2..4 = 1..3, end of course = the 4 doses received.
    assert positions == [0, 1, 2, 3, 4]
    assert phq9.trajectory.patients == 6 and phq9.trajectory.slope < 0
    svg = ET.fromstring(phq9.chart_svg)  # noqa: S314 - our own rendered output
    assert svg.find(f"{SVG}title").text == "PHQ-9 by dosing sessions received"
    assert svg.find(f"{SVG}desc").text.endswith("The values are in the table below.")
    # The PHQ-9's severity bands are shaded, a whisker marks each mean's 95% CI, the mixed model is a dashed line.
    assert "moderately severe" in [text.text for text in svg.iter(f"{SVG}text")]
    assert len(svg.findall(f"{SVG}circle")) >= len(positions) and svg.findall(f"{SVG}path")
    assert any(line.get("stroke-dasharray") for line in svg.iter(f"{SVG}polyline"))


def test_the_report_draws_its_charts_inline_with_the_values_in_tables_and_no_image():
    build_practice()
    report = build_report()
    html = report_html(report)
    assert "<img" not in html and "data:image" not in html
    overview = ET.fromstring(report.overview_svg)  # noqa: S314 - our own rendered output
    assert overview.find(f"{SVG}title").text == "Baseline and end of course"
    assert overview.get("aria-describedby") == "outcomes-overview-desc"
    # One end-of-course bar per questionnaire, and the legend's key.
    shown = [o for o in report.instruments if o.comparison.n]
    assert len([r for r in overview.iter(f"{SVG}rect") if r.get("fill") == "#0f766e"]) == len(shown) + 1
    # Each questionnaire on its own axis, up to its own highest possible total (the PHQ-9's 27).
    texts = [text.text for text in overview.iter(f"{SVG}text")]
    assert "27" in texts and "each on its own scale" in overview.find(f"{SVG}desc").text
    axes = [line for line in overview.iter(f"{SVG}line") if line.get("stroke") == "#333333"]
    assert len(axes) == 2 * len(shown)
    assert "PHQ-9 mean total by dosing sessions received (the chart's values)" in html
    assert 'id="outcomes-trajectory-phq9-title"' in html
    # On a phone each chart keeps its drawn size and scrolls sideways in its box (site.css), as the portal's do:
    # shrunk to the screen, the overview's four panels were a thumbnail.
    assert html.count('<div class="table-scroll chart-scroll"><svg') == 1 + len(
        [o for o in report.instruments if o.chart_svg]
    )
    assert '<p class="help chart-hint">On a phone, swipe a chart sideways' in html


def test_subgroups_split_the_pairs_without_losing_any():
    build_practice()
    phq9 = _outcome(build_report(), "phq9")
    for dimension in ("Route", "Age band", "Baseline severity", "Dosing sessions"):
        rows = [row for row in phq9.subgroups if row.dimension == dimension]
        assert sum(row.comparison.n for row in rows) == 6, dimension


def test_creativity_change_is_a_paired_comparison_with_the_missing_end_counted():
    build_practice()
    changes = {change.label: change for change in build_report().creativity}
    top2 = changes["AUT originality, top 2"]
    complete = [(b, e) for b, e in ORIGINALITY_PAIRS if e is not None]
    baseline, end = np.array(complete).T
    assert (top2.n_baseline, top2.comparison.n) == (6, 5)
    assert top2.comparison.p == pytest.approx(stats.ttest_rel(end, baseline).pvalue)
    assert "DAT score" not in changes  # nobody did the DAT


def test_safety_counts_adverse_events_and_bp_alerts_per_100_sessions():
    build_practice()
    safety = build_report().safety
    assert safety.sessions == 24
    assert safety.adverse_events.events == 2
    assert safety.adverse_events.per_100 == pytest.approx(100 * 2 / 24)
    # Each patient's first dose had a pre-dose BP of 172/95 with a review alert.
    assert safety.bp_alert_sessions.events == 6


def test_adherence_counts_each_window_once():
    build_practice()
    adherence = build_report().adherence
    assert adherence.windows == 24
    by_label = {row.label: row.count for row in adherence.counts}
    assert by_label["Done within the preferred window"] == 12  # the journaling half of the patients
    assert adherence.completed_in_window.count == 12


def test_filters_narrow_the_cohort():
    practice = build_practice()
    assert build_report(ReportFilters(indication="ptsd")).cohort == 1
    assert build_report(ReportFilters(template_id=TEMPLATE)).cohort == 6
    assert build_report(ReportFilters(template_id="another")).cohort == 0
    assert build_report(ReportFilters(facilitator_id=practice.staff["prescriber"].pk)).cohort == 6
    assert build_report(ReportFilters(facilitator_id=practice.staff["nurse"].pk)).cohort == 0
    start = practice.group.start_date
    assert build_report(ReportFilters(date_from=start, date_to=start)).cohort == 6
    assert build_report(ReportFilters(date_from=start + datetime.timedelta(days=1))).cohort == 0


def test_an_empty_practice_renders_a_report_that_says_so():
    report = build_report()
    assert report.is_empty and report.instruments == []
    html = report_html(report)
    assert "No patient matches" in html and "No creativity data" in html
    assert report.creativity == []


def test_sparse_data_renders_with_its_missing_counts():
    practice = build_practice(3)
    Assessment.objects.filter(patient=practice.patients[0], occasion="end_of_course").delete()
    lonely = Group.objects.create(
        name="Solo",
        template_id=TEMPLATE,
        template_version=1,
        min_size=1,
        max_size=4,
        start_date=datetime.date(2025, 1, 1),
    )
    from tests.outcomes.factories import _patient

    Enrolment.objects.create(
        group=lonely, patient=_patient(9, born=datetime.date(1970, 1, 1), team=[]), status=Enrolment.Status.WITHDRAWN
    )
    report = build_report()
    phq9 = _outcome(report, "phq9")
    assert report.cohort == 4
    assert (phq9.n_baseline, phq9.comparison.n, phq9.missing_end) == (3, 2, 1)
    html = report_html(report)
    assert "missing at the end of course: 1" in html
    assert "(N = 3 patients; missing 1)" in html  # route: the withdrawn patient had no dose


def test_the_page_shows_the_report_and_refuses_a_bad_filter(client_for, cast):
    build_practice(3)
    client = client_for(cast.therapist)  # a researcher sees nothing of 3 patients: test_cell_suppression
    response = client.get(reverse("outcomes:report"))
    assert response.status_code == 200
    assert b"Table 1. Demographics" in response.content and b"PHQ-9" in response.content
    assert b"Quorvexa" not in response.content
    bad = client.get(reverse("outcomes:report"), {"date_from": "2025-02-30"})
    assert bad.status_code == 400


def test_the_pdf_download_is_a_pdf(client_for, cast):
    build_practice(3)
    response = client_for(cast.admin).get(reverse("outcomes:report_pdf"), {"indication": "depression"})
    assert response.status_code == 200 and response.content.startswith(b"%PDF")


def test_the_command_writes_html_or_pdf_by_extension(tmp_path):
    build_practice(3)
    out, progress = io.StringIO(), io.StringIO()
    call_command("report", "outcomes", "--out", str(tmp_path / "r.html"), stdout=out, stderr=progress)
    # The summary alone on stdout; each stage on stderr as it starts.
    assert out.getvalue().startswith("Wrote the outcomes report (3 patients")
    assert progress.getvalue().splitlines() == ["  building the outcomes report", "  writing it as HTML (3 patients)"]
    assert "Table 2. Baseline clinical data" in (tmp_path / "r.html").read_text()
    call_command("report", "outcomes", "--out", str(tmp_path / "r.bin"), "--format", "pdf", stdout=io.StringIO())
    assert (tmp_path / "r.bin").read_bytes().startswith(b"%PDF")


def test_the_command_records_its_read_of_the_report_with_the_filters_and_the_command(tmp_path):
    build_practice(3)
    call_command(
        "report", "outcomes", "--out", str(tmp_path / "r.html"), "--indication", "depression", stdout=io.StringIO()
    )
    read = AuditEvent.objects.filter(object_type="outcomes_report").latest("id")
    assert (
        read.action == "read"
        and read.actor_label == "system:report outcomes"
        and "indication Depression" in read.detail
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--from", "2025-13-01"], "YYYY-MM-DD"),
        (["--to", "yesterday"], "YYYY-MM-DD"),
        (["--from", "2025-05-01", "--to", "2025-01-01"], "after"),
        (["--template", "no-such-template"], "Unknown course template"),
        (["--facilitator", "nobody"], "no user"),
        (["--indication", "melancholy"], "Unknown indication"),
    ],
)
def test_the_command_rejects_bad_input_with_status_2(tmp_path, arguments, message):
    with pytest.raises(CommandError, match=message) as error:
        call_command("report", "outcomes", "--out", str(tmp_path / "r.html"), *arguments)
    assert error.value.returncode == 2


def test_the_command_rejects_an_unknown_format_or_folder(tmp_path):
    for out in (tmp_path / "r.docx", tmp_path / "missing" / "r.html"):
        with pytest.raises(CommandError) as error:
            call_command("report", "outcomes", "--out", str(out))
        assert error.value.returncode == 2


def _age_section(html: str) -> str:
    return html[html.index("Age at the start of the course") : html.index("Sex <span")]


def test_every_age_the_report_prints_is_top_coded_at_90_for_every_reader(client_for, cast):
    practice = build_practice(3)
    # 94 at the start of the course (2025-02-18); the others are 64 and 34.
    Patient.objects.filter(pk=practice.patients[2].pk).update(date_of_birth=datetime.date(1930, 6, 1))
    report = build_report()
    age = report.table1[0].summaries[0]
    assert (age.minimum, age.median, age.maximum) == (34, 64, 90)
    assert age.estimate.mean == pytest.approx((34 + 64 + 90) / 3)
    assert {row.label for row in report.table1[0].counts} == {"30-39", "50-64", "65+"}
    section = _age_section(report_html(report))
    assert "range 34.0 to 90 or older" in section and "94" not in section
    for person in (cast.therapist, cast.bob, cast.admin):
        page = client_for(person).get(reverse("outcomes:report")).content.decode()
        assert "90 or older" in _age_section(page) and "94" not in _age_section(page), person
    # A researcher is shown no table of 3 patients at all (test_cell_suppression), so no age either.
    # Read as the words on the page, not its markup: a random token (the CSP nonce, the CSRF token) may hold "94".
    researcher_page = client_for(cast.researcher).get(reverse("outcomes:report")).content.decode()
    assert not re.search(r"\b94\b", re.sub(r"<[^>]*>", " ", researcher_page))


def test_a_score_with_an_end_but_no_baseline_is_stated_with_its_n():
    practice = build_practice()
    without_baseline = practice.patients[:3]
    Assessment.objects.filter(patient__in=without_baseline, instrument_id="gad7", occasion="baseline").delete()
    Assessment.objects.filter(instrument_id="phq9", occasion="baseline").delete()
    CreativityAdministration.objects.filter(patient=practice.patients[0], occasion="baseline").delete()
    report = build_report()
    gad7 = _outcome(report, "gad7")
    assert (gad7.n_baseline, gad7.n_end, gad7.comparison.n, gad7.missing_baseline) == (3, 6, 3, 3)
    assert "phq9" not in {o.instrument_id for o in report.instruments}
    top2 = next(change for change in report.creativity if change.label == "AUT originality, top 2")
    # Patient 0 lost their baseline; patient 5 never did the end-of-course task (factories).
    assert (top2.n_baseline, top2.comparison.n, top2.missing_baseline, top2.missing_end) == (5, 4, 1, 1)
    expected = [
        "GAD-7: 3 patients have an end-of-course score but no baseline, so they are left out of the paired analysis.",
        "PHQ-9: 6 patients have an end-of-course score but no baseline, so no change can be reported.",
        "AUT originality, top 2: 1 patient has an end-of-course score but no baseline, so they are left out of the "
        "paired analysis.",
        "AUT originality, top 2: 1 patient has a baseline but no end-of-course score, so they are left out of the "
        "paired analysis.",
    ]
    for statement in expected:
        assert statement in report.missing_data
    html = report_html(report)
    assert all(statement in html for statement in expected)
    assert "missing at baseline (end of course only, left out): 3" in html


def test_nothing_left_out_is_said_too():
    build_practice(5)  # every patient has both ends of every questionnaire and task
    report = build_report()
    assert report.missing_data == []
    assert (
        "Nothing: every patient with a baseline or end-of-course score has both, and every questionnaire has a "
        "place in its trajectory." in report_html(report)
    )


def test_the_methods_text_says_when_a_trajectory_used_the_vectorised_fit(monkeypatch):
    build_practice(3)
    assert not any("vectorised" in note for note in build_report().notes)
    monkeypatch.setattr(statistics, "STATSMODELS_MAX_PATIENTS", 2)  # as if the practice were large
    report = build_report()
    assert _outcome(report, "phq9").trajectory.fitted_with.startswith("vectorised REML")
    note = next(note for note in report.notes if note.startswith("Trajectories"))
    assert "vectorised REML fit of the same model" in note and "10,000 synthetic patients" in note


def test_the_course_template_is_named_not_shown_by_its_id():
    build_practice()
    section = next(section for section in build_report().table2 if section.title == "Course template")
    assert [row.label for row in section.counts] == ["Group KAP programme (3 preparation, 3 dosing, 4 integration)"]


def test_the_long_tables_are_each_in_a_disclosure_named_for_what_it_holds(client_for, cast):
    build_practice(3)
    page = client_for(cast.therapist).get(reverse("outcomes:report")).content.decode()
    toggle = '<details class="report-part" data-open-wide><summary class="report-toggle">'
    assert f"{toggle}Demographics: " in page and f"{toggle}Baseline clinical data: " in page
    assert f"{toggle}PHQ-9 by subgroup: " in page and f"{toggle}PHQ-9 trajectory: the model" in page
    assert page.count("<details") == page.count("</details>")
    # Everything is still on the page, inside them.
    assert "Table 1. Demographics" in page and "PHQ-9: subgroups" in page and "dosing sessions received" in page


def test_a_baseline_completed_after_the_first_dose_is_left_out_and_said_the_last_before_it_counts():
    """Baseline = the last score before the course's first dose: a "baseline" answered after dosing has begun measures
    the treatment, so it is neither paired with the end of course nor placed at position 0 of the trajectory."""
    practice = build_practice()
    first_dose = practice.sessions[0].starts_at + datetime.timedelta(minutes=30)
    late, earlier = practice.patients[0], practice.patients[1]
    Assessment.objects.filter(patient=late, instrument_id="phq9", occasion="baseline").update(
        completed_at=first_dose + datetime.timedelta(days=2)
    )
    # Patient 1 answered a baseline twice before dosing (one unlinked to the course, as the factories' are): the
    # later one, nearer the first dose, is the baseline.
    Assessment.objects.create(
        patient=earlier,
        instrument_id="phq9",
        occasion="baseline",
        due_at=first_dose - datetime.timedelta(days=1),
        status=Assessment.Status.COMPLETED,
        total=27,
        completed_at=first_dose - datetime.timedelta(days=1),
    )
    report = build_report()
    phq9 = _outcome(report, "phq9")
    pairs = [(27, PHQ9_PAIRS[1][1]), *PHQ9_PAIRS[2:]]
    baseline, end = np.array(pairs, dtype=float).T
    assert (phq9.n_baseline, phq9.comparison.n, phq9.missing_baseline) == (5, 5, 1)
    assert phq9.comparison.baseline.mean == pytest.approx(baseline.mean())
    assert phq9.comparison.t == pytest.approx(stats.ttest_rel(end, baseline).statistic)
    assert (
        "PHQ-9: 1 baseline completed after the course's first dose is left out, as a score after dosing is not a "
        "baseline." in report.missing_data
    )
    # Position 0 holds the five baselines taken before dosing, the later of patient 1's two among them.
    at_start = dict(phq9.trajectory_means)[0]
    assert at_start.n == 6 and at_start.mean == pytest.approx((sum(baseline) + PHQ9_PAIRS[1][0]) / 6)


def test_a_total_entered_for_the_day_of_the_first_dose_is_still_a_baseline():
    """A total entered by staff carries only its day (stored at noon): on the first dose's day it counts as before it,
    on the day after it does not."""
    practice = build_practice()
    first_dose = practice.sessions[0].starts_at + datetime.timedelta(minutes=30)
    same_day, next_day = practice.patients[0], practice.patients[1]
    dose_day = timezone.localtime(first_dose).date()
    for patient, days in ((same_day, 0), (next_day, 1)):
        noon = datetime.datetime.combine(dose_day + datetime.timedelta(days=days), datetime.time(12))
        assert noon > timezone.make_naive(first_dose)  # so only the day, not the time, can keep it
        Assessment.objects.filter(patient=patient, instrument_id="phq9", occasion="baseline").update(
            source=Assessment.Source.STAFF_TOTAL, completed_at=timezone.make_aware(noon)
        )
    phq9 = _outcome(build_report(), "phq9")
    assert (phq9.comparison.n, phq9.missing_baseline) == (5, 1)


def test_a_one_patient_practice_renders_for_staff_and_shows_a_researcher_nothing_to_single_them_out(client_for, cast):
    build_practice(1)
    report = build_report()
    phq9 = _outcome(report, "phq9")
    assert report.cohort == 1 and phq9.comparison.n == 1 and phq9.comparison.t is None
    assert phq9.trajectory.slope is None and "too few patients" in phq9.trajectory.note
    assert "PHQ-9" in report_html(report)
    for person in (cast.bob, cast.researcher):
        assert client_for(person).get(reverse("outcomes:report")).status_code == 200
    researcher_page = client_for(cast.researcher).get(reverse("outcomes:report")).content.decode()
    assert str(PHQ9_PAIRS[0][0]) not in re.sub(r"<[^>]*>", " ", researcher_page).split()


def test_a_report_cut_short_by_a_full_disk_leaves_the_earlier_one_and_no_half_file(tmp_path, monkeypatch):
    build_practice(2)
    earlier = tmp_path / "r.html"
    earlier.write_text("the report of last month")
    written = pathlib.Path.write_bytes

    def disk_full(self, data):
        written(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pathlib.Path, "write_bytes", disk_full)
    with pytest.raises(CommandError, match="No space left on device") as refused:
        call_command("report", "outcomes", "--out", str(earlier), stdout=io.StringIO(), stderr=io.StringIO())
    assert refused.value.returncode == 2
    assert earlier.read_text() == "the report of last month"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["r.html"]
