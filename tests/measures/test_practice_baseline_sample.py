"""The practice's baseline sample is kept as totals are written, so a chart reads one row however large the practice,
and it stays what the questionnaires say after a new score, a total entered with an earlier date, a correction or
a void."""

import datetime
import math
import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kapstone.measures import selectors, services
from kapstone.measures.models import Assessment, BaselineTotal, PracticeBaseline
from kapstone.measures.scoring import get_instrument
from tests.conftest import make_patient
from tests.measures.factories import due_assessment

PHQ9 = get_instrument("phq9")
SETTINGS = {"rci_minimum_baseline_n": 30}
TODAY = timezone.localdate


def phq9_total(total: int) -> dict[int, int]:
    """PHQ-9 answers adding up to `total` (at most 24) with item 9 unendorsed."""
    answers = {n: 0 for n in range(1, 10)}
    for number in range(1, 9):
        answers[number] = min(3, total)
        total -= answers[number]
    return answers


def submit(patient, total: int) -> Assessment:
    assessment = due_assessment(patient, "phq9")
    services.assessment_save_answers(actor=None, assessment=assessment, answers=phq9_total(total), submit=True)
    return assessment


def from_questionnaires(instrument_id="phq9") -> tuple[int, float | None]:
    totals = list(selectors.first_totals(instrument_id=instrument_id).values())
    return len(totals), selectors.sample_sd(totals)


def stored(instrument_id="phq9") -> tuple[int, float | None]:
    return PracticeBaseline.objects.values_list("n", "sd").get(instrument_id=instrument_id)


def test_each_patients_first_score_joins_the_sample_and_later_ones_do_not(cast):
    submit(cast.alice, 16)
    submit(cast.dana, 10)
    assert stored() == (2, pytest.approx(math.sqrt(18)))
    submit(cast.alice, 2)  # a later total is not a baseline
    submit(make_patient("Third", "Baseline"), 13)
    assert stored() == from_questionnaires() == (3, pytest.approx(3.0))
    assert dict(BaselineTotal.objects.values_list("patient__given_name", "total")) == {
        "Alice": 16,
        "Dana": 10,
        "Third": 13,
    }
    sample = selectors.practice_baseline_sample(PHQ9, SETTINGS)
    assert (sample.n, sample.sd, sample.minimum_n) == (3, pytest.approx(3.0), 30)


def test_a_chart_reads_the_sample_in_one_query_however_many_patients(cast):
    submit(cast.alice, 16)
    with CaptureQueriesContext(connection) as few:
        selectors.practice_baseline_sample(PHQ9, SETTINGS)
    for index in range(6):
        submit(make_patient(f"More{index}", "Patients"), index)
    with CaptureQueriesContext(connection) as many:
        sample = selectors.practice_baseline_sample(PHQ9, SETTINGS)
    assert len(few) == len(many) == 1
    assert "measures_practicebaseline" in many[0]["sql"]
    assert sample.n == 7


def test_without_a_kept_sample_the_page_computes_it_and_the_next_total_keeps_it(cast):
    """Results stored before the sample was kept (or written in bulk): computed from the questionnaires, until the
    next total written through the services fills in every member."""
    for patient, total in [(cast.alice, 16), (cast.dana, 10)]:
        due_assessment(patient, "phq9", status=Assessment.Status.COMPLETED, total=total, completed_at=timezone.now())
    assert not PracticeBaseline.objects.exists()
    assert selectors.practice_baseline_sample(PHQ9, SETTINGS).n == 2
    submit(make_patient("Third", "Baseline"), 13)
    assert stored() == from_questionnaires() == (3, pytest.approx(3.0))


def test_the_demo_practices_bulk_results_are_filled_in_by_the_rebuild(cast):
    submit(cast.alice, 16)
    due_assessment(cast.dana, "phq9", status=Assessment.Status.COMPLETED, total=10, completed_at=timezone.now())
    assert stored()[0] == 1
    assert services.practice_baselines_rebuild() == 3  # the PHQ-9, GAD-7 and QIDS-SR16 take the practice's SD
    assert stored() == from_questionnaires() == (2, pytest.approx(math.sqrt(18)))
    assert stored("gad7") == (0, None)


# --- entered totals: no instrument entered as a total takes the practice's SD today, so the BDI-II stands in ------


@pytest.fixture
def bdi_takes_the_practice_sd(monkeypatch):
    real = services.takes_practice_baseline_sample
    monkeypatch.setattr(
        services, "takes_practice_baseline_sample", lambda instrument: instrument.id == "bdi-ii" or real(instrument)
    )


def entered(cast, patient, total, days_ago):
    return services.assessment_record_total(
        actor=cast.bob,
        patient=patient,
        instrument_id="bdi-ii",
        total=total,
        items={9: 0},
        completed_on=TODAY() - datetime.timedelta(days=days_ago),
    )


def test_a_total_entered_with_an_earlier_date_becomes_the_patients_baseline(cast, bdi_takes_the_practice_sd):
    entered(cast, cast.alice, 30, days_ago=5)
    entered(cast, cast.dana, 20, days_ago=5)
    entered(cast, cast.alice, 24, days_ago=40)  # entered late, from a form filled in before the others
    assert stored("bdi-ii") == from_questionnaires("bdi-ii") == (2, pytest.approx(math.sqrt(8)))


def test_a_corrected_baseline_moves_the_sd_and_a_corrected_date_can_hand_the_baseline_on(
    cast, bdi_takes_the_practice_sd
):
    first = entered(cast, cast.alice, 30, days_ago=20)
    entered(cast, cast.alice, 10, days_ago=10)
    entered(cast, cast.dana, 20, days_ago=20)
    services.entered_total_correct(
        actor=cast.bob, assessment=first, total=26, completed_on=TODAY() - datetime.timedelta(days=20), reason="typo"
    )
    assert stored("bdi-ii") == from_questionnaires("bdi-ii") == (2, pytest.approx(math.sqrt(18)))
    services.entered_total_correct(
        actor=cast.bob, assessment=first, total=26, completed_on=TODAY() - datetime.timedelta(days=2), reason="date"
    )
    assert stored("bdi-ii") == from_questionnaires("bdi-ii") == (2, pytest.approx(math.sqrt(50)))


def test_a_voided_baseline_hands_it_to_the_next_total_or_leaves_the_sample(cast, bdi_takes_the_practice_sd):
    first = entered(cast, cast.alice, 30, days_ago=20)
    entered(cast, cast.alice, 10, days_ago=10)
    only = entered(cast, cast.dana, 20, days_ago=20)
    services.entered_total_void(actor=cast.bob, assessment=first, reason="another patient's form")
    assert stored("bdi-ii") == from_questionnaires("bdi-ii") == (2, pytest.approx(math.sqrt(50)))
    services.entered_total_void(actor=cast.bob, assessment=only, reason="entered twice")
    assert stored("bdi-ii") == from_questionnaires("bdi-ii") == (1, None)
    assert list(BaselineTotal.objects.filter(instrument_id="bdi-ii").values_list("patient_id", "total")) == [
        (cast.alice.pk, 10)
    ]


# --- many writers at once on PostgreSQL -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_baselines_submitted_at_once_are_all_counted(cast):
    if connection.vendor != "postgresql":
        pytest.skip("writers queue on the sample's row lock on PostgreSQL; SQLite runs one writer at a time")
    submit(cast.alice, 16)  # the kept sample exists, so the writers below update it rather than create it
    patients = [make_patient(f"Racer{index}", "Baseline") for index in range(6)]
    assessments = [due_assessment(patient, "phq9") for patient in patients]
    barrier = threading.Barrier(len(assessments))
    failures = []

    def answer(assessment, total):
        try:
            barrier.wait()
            services.assessment_save_answers(actor=None, assessment=assessment, answers=phq9_total(total), submit=True)
        except Exception as failure:  # noqa: BLE001 - reported to the test thread, which fails on it
            failures.append(failure)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=answer, args=(a, 4 + 3 * i)) for i, a in enumerate(assessments)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert stored() == from_questionnaires() == (7, pytest.approx(selectors.sample_sd([16, 4, 7, 10, 13, 16, 19])))
