"""What the report counts and leaves out: every exclusion stated with its N, every summary with its N and its
unit (patients or doses), and no free-text gender identity for any reader."""

import datetime

import pandas as pd
import pytest
from django.urls import reverse

from kapstone.dosing.models import DoseRecord, Route
from kapstone.outcomes.deidentify import GENDER_NOT_RECORDED, GENDER_OTHER, GENDER_VOCABULARY
from kapstone.outcomes.render import report_html
from kapstone.outcomes.report import build_report
from kapstone.outcomes.services import research_export_write
from kapstone.patients.models import Patient
from kapstone.program.models import Enrolment
from tests.outcomes.factories import FIRST_DOSING, _assessment, _patient, build_practice

pytestmark = pytest.mark.django_db

WEIGHT_KG = 70.5  # every dose's weight in the factories


def _outcome(report, instrument_id):
    return next(o for o in report.instruments if o.instrument_id == instrument_id)


def _section(report, title_start):
    return next(s for s in report.table1 + report.table2 if s.title.startswith(title_start))


def test_an_end_of_course_score_of_a_patient_given_no_dose_is_left_out_of_the_trajectory_and_stated_with_its_n():
    practice = build_practice(3)
    undosed = _patient(9, born=datetime.date(1970, 1, 1), team=[])
    Enrolment.objects.create(group=practice.group, patient=undosed, status=Enrolment.Status.COMPLETED)
    _assessment(undosed, "gad7", "baseline", 12, FIRST_DOSING - datetime.timedelta(days=5))
    _assessment(undosed, "gad7", "end_of_course", 9, FIRST_DOSING + datetime.timedelta(weeks=4))
    _assessment(practice.patients[0], "gad7", "follow_up_1m", 7, FIRST_DOSING + datetime.timedelta(weeks=9))
    report = build_report()
    gad7 = _outcome(report, "gad7")
    # 3 dosed patients x (baseline, end) + the undosed patient's baseline; their end has no position.
    assert (gad7.trajectory.observations, gad7.trajectory_questionnaires, gad7.off_timeline) == (7, 8, 1)
    statement = (
        "GAD-7 trajectory: the model used 7 of the 8 questionnaires on the dosing timeline; left out: 1 "
        "end-of-course questionnaire of 1 patient given no dose in the course, so with no position on the "
        "dosing timeline."
    )
    assert statement in report.missing_data
    assert not any(line.startswith("PHQ-9 trajectory") for line in report.missing_data)  # nothing left out
    html = report_html(report)
    assert statement in html and "Nothing:" not in html
    assert "7 of the 8 questionnaires on the dosing timeline, from 4 patients; left out: 1 end-of-course" in html
    assert "1 follow-up or ad hoc questionnaire, taken off the dosing timeline, is not modelled." in html


FREE_TEXT_GENDER = "Zephyrine of the ninth moon"


def test_a_free_text_gender_identity_never_reaches_the_report_for_any_reader(client_for, cast):
    practice = build_practice(4)
    Patient.objects.filter(pk=practice.patients[0].pk).update(gender_identity=FREE_TEXT_GENDER)
    Patient.objects.filter(pk=practice.patients[1].pk).update(gender_identity="  Non-Binary ")
    Patient.objects.filter(pk=practice.patients[2].pk).update(gender_identity="")
    report = build_report()
    counts = {row.label: row.count for row in _section(report, "Gender identity").counts}
    # Patient 3 is "woman" (factories).
    assert counts == {GENDER_OTHER: 1, "non-binary": 1, GENDER_NOT_RECORDED: 1, "woman": 1}
    assert set(counts) <= GENDER_VOCABULARY | {GENDER_OTHER, GENDER_NOT_RECORDED}
    assert FREE_TEXT_GENDER.lower() not in report_html(report).lower()
    for person in (cast.researcher, cast.admin, cast.bob, cast.therapist, cast.charlie):
        page = client_for(person).get(reverse("outcomes:report")).content.decode().lower()
        assert "zephyrine" not in page, person
        assert "galactic" not in page, person  # the factories' own free-text gender identity


def test_the_report_counts_gender_identity_exactly_as_the_research_export_writes_it(tmp_path):
    practice = build_practice(4)
    Patient.objects.filter(pk=practice.patients[0].pk).update(gender_identity=FREE_TEXT_GENDER)
    research_export_write(actor_label="test", out_dir=tmp_path)
    exported = pd.read_csv(tmp_path / "patients.csv", keep_default_na=False)["gender_identity"].value_counts()
    reported = {row.label: row.count for row in _section(build_report(), "Gender identity").counts}
    assert reported == exported.to_dict()


def _uneven_weights(practice):
    """Patient 0: sessions 1 and 3 (150 mg) by IM with a weight; 2 and 4 (100 mg) sublingual without one.
    Patient 1: no weight at any dose."""
    first, second = practice.patients[:2]
    DoseRecord.objects.filter(patient=first, session__number__in=[2, 4]).update(route=Route.SUBLINGUAL, weight_kg=None)
    DoseRecord.objects.filter(patient=second).update(weight_kg=None)


def test_per_patient_mg_per_kg_is_each_patients_mean_over_their_doses_with_a_weight():
    practice = build_practice()
    _uneven_weights(practice)
    section = _section(build_report(), "Dose per patient")
    dose_mg, mg_per_kg = section.summaries
    assert (section.n, section.unit, dose_mg.unit, mg_per_kg.unit) == (6, "patients", "patients", "patients")
    assert (dose_mg.estimate.n, dose_mg.of) == (6, 6)
    assert dose_mg.estimate.mean == pytest.approx(125)  # 150, 100, 150, 100 for everyone
    # Patient 1 has no weight, so is not in the N; patient 0 counts once, at 150 mg / 70.5 kg (not diluted by
    # the two doses without a weight); patients 2-5 at 125 mg / 70.5 kg.
    assert (mg_per_kg.estimate.n, mg_per_kg.of) == (5, 6)
    assert mg_per_kg.estimate.mean == pytest.approx((150 + 4 * 125) / 5 / WEIGHT_KG)
    assert mg_per_kg.maximum == pytest.approx(150 / WEIGHT_KG)


def test_per_dose_summaries_count_every_dose_once_and_mg_per_kg_only_the_doses_with_a_weight():
    practice = build_practice()
    _uneven_weights(practice)
    section = _section(build_report(), "Dose per dose")
    dose_mg, mg_per_kg = section.summaries
    assert (section.n, section.unit, dose_mg.unit, mg_per_kg.unit) == (24, "doses", "doses", "doses")
    assert (dose_mg.estimate.n, dose_mg.of) == (24, 24) and dose_mg.estimate.mean == pytest.approx(125)
    # Weighed: patient 0's two 150 mg doses and patients 2-5's 16 doses (8 of 150 mg, 8 of 100 mg).
    assert (mg_per_kg.estimate.n, mg_per_kg.of) == (18, 24)
    assert mg_per_kg.estimate.mean == pytest.approx((10 * 150 + 8 * 100) / 18 / WEIGHT_KG)


def test_every_summary_of_table_2_prints_its_n_and_unit():
    practice = build_practice()
    _uneven_weights(practice)
    report = build_report()
    html = report_html(report)
    table2 = html[html.index("Table 2. Baseline clinical data") :]
    for section in report.table2:
        for summary in section.summaries:
            assert summary.unit in ("patients", "doses")
    assert "N = 6 patients</td>" in table2  # mean dose per patient, and dosing sessions per patient
    assert "N = 5 of 6 patients</td>" in table2  # mg/kg per patient
    assert "N = 24 doses</td>" in table2 and "N = 18 of 24 doses</td>" in table2
    assert "(N = 24 doses)" in table2
    expected = sum(len(section.summaries) for section in report.table2)
    assert table2.count(" patients</td>") + table2.count(" doses</td>") == expected
