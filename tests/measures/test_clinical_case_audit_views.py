"""Clinical-case probes through the pages: tampered questionnaire posts, another patient's questionnaire,
critical answers reaching the care team and the crisis page, acknowledgement, licensed totals."""

import datetime

import pytest
from django.urls import reverse

from kapstone.measures import services
from kapstone.measures.models import Assessment, CriticalAlert
from kapstone.measures.scoring import InvalidAnswers
from tests.measures.factories import PHQ9_MILD, due_assessment, phq9


def _post(answers: dict[int, int], action: str = "submit") -> dict:
    return {**{f"item_{n}": str(v) for n, v in answers.items()}, "action": action}


def _untouched(assessment: Assessment) -> bool:
    assessment.refresh_from_db()
    return assessment.status == Assessment.Status.DUE and assessment.answers == {} and assessment.total is None


def test_a_patient_posting_to_another_patients_questionnaire_gets_404_and_nothing_is_written(cast, client_for):
    alices = due_assessment(cast.alice)
    response = client_for(cast.dana_user).post(reverse("portal:questionnaire", args=[alices.pk]), _post(PHQ9_MILD))
    assert response.status_code == 404 and _untouched(alices)


def test_staff_cannot_reach_another_patients_questionnaire_through_their_own_patients_address(cast, client_for):
    danas = due_assessment(cast.dana)
    url = reverse("measures:record", args=[cast.alice.pk, danas.pk])
    assert client_for(cast.bob).post(url, _post(PHQ9_MILD)).status_code == 404
    assert _untouched(danas)


@pytest.mark.parametrize("extra", [{10: 3}, {0: 1}])
def test_a_post_answering_a_question_the_form_does_not_have_is_refused_and_nothing_saved(cast, client_for, extra):
    assessment = due_assessment(cast.alice)
    response = client_for(cast.alice_user).post(
        reverse("portal:questionnaire", args=[assessment.pk]), _post(PHQ9_MILD | extra)
    )
    assert response.status_code == 400 and _untouched(assessment)


def test_the_service_refuses_an_answer_to_an_item_the_instrument_does_not_have(cast):
    assessment = due_assessment(cast.alice)
    with pytest.raises(InvalidAnswers):
        services.assessment_save_answers(actor=None, assessment=assessment, answers=PHQ9_MILD | {10: 3}, submit=True)
    assert _untouched(assessment)


@pytest.mark.parametrize("bad", ["7", "", "3; DROP", "99999999999999999999"])
def test_a_tampered_submit_is_refused_with_400_and_nothing_saved(cast, client_for, bad):
    assessment = due_assessment(cast.alice)
    data = _post(PHQ9_MILD) | {"item_9": bad}
    response = client_for(cast.alice_user).post(reverse("portal:questionnaire", args=[assessment.pk]), data)
    assert response.status_code == 400 and _untouched(assessment)


def _qids_with_the_patient(cast, client_for, item_12: int):
    # The QIDS-SR16 ships without its wording, so staff go through it with the patient.
    assessment = due_assessment(cast.alice, "qids-sr16")
    answers = {n: 0 for n in range(1, 17)} | {12: item_12}
    url = reverse("measures:record", args=[cast.alice.pk, assessment.pk])
    return assessment, client_for(cast.bob).post(url, _post(answers))


def test_qids_item_12_of_1_puts_an_alert_in_the_queue_for_review(cast, client_for):
    assessment, _ = _qids_with_the_patient(cast, client_for, 1)
    alert = CriticalAlert.objects.get(assessment=assessment)
    assert alert.priority == CriticalAlert.Priority.REVIEW


def test_qids_item_12_of_2_pages_the_care_team(cast, client_for):
    assessment, _ = _qids_with_the_patient(cast, client_for, 2)
    assert CriticalAlert.objects.get(assessment=assessment).priority >= CriticalAlert.Priority.URGENT


@pytest.mark.parametrize(
    ("answers", "level", "priority"),
    [
        ({1: 1, 2: 0, 6: 0}, "low", "REVIEW"),
        ({1: 1, 2: 1, 3: 1, 4: 0, 5: 0, 6: 0}, "moderate", "URGENT"),
        ({1: 1, 2: 1, 3: 0, 4: 0, 5: 1, 6: 0}, "high", "HIGH"),
        ({1: 0, 2: 0, 6: 1}, "high", "HIGH"),
    ],
)
def test_cssrs_triage_through_the_portal(cast, client_for, answers, level, priority):
    assessment = due_assessment(cast.alice, "cssrs-screener")
    page = client_for(cast.alice_user).post(reverse("portal:questionnaire", args=[assessment.pk]), _post(answers))
    text = page.content.decode()
    assert "988" in text and "not watched in real time" in text
    alert = CriticalAlert.objects.get(assessment=assessment)
    assert alert.level == level and alert.priority == getattr(CriticalAlert.Priority, priority)


def test_a_cssrs_all_no_raises_nothing_and_shows_no_crisis_page(cast, client_for):
    assessment = due_assessment(cast.alice, "cssrs-screener")
    response = client_for(cast.alice_user).post(
        reverse("portal:questionnaire", args=[assessment.pk]), _post({1: 0, 2: 0, 6: 0})
    )
    assert response.status_code == 302 and not CriticalAlert.objects.exists()


def test_acknowledging_an_alert_needs_a_note_and_only_the_care_team_can(cast, client_for):
    assessment = due_assessment(cast.alice)
    services.assessment_save_answers(
        actor=None, assessment=assessment, answers=phq9(0, 0, 0, 0, 0, 0, 0, 0, 1), submit=True
    )
    alert = CriticalAlert.objects.get(assessment=assessment)
    url = reverse("measures:acknowledge", args=[alert.pk])
    assert client_for(cast.bob).post(url, {"note": "   "}).status_code == 400
    assert client_for(cast.charlie).post(url, {"note": "called"}).status_code == 404
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
    client_for(cast.bob).post(url, {"note": "Called the patient; safety plan reviewed."})
    alert.refresh_from_db()
    assert alert.acknowledged_by == cast.bob and alert.acknowledgement_note.startswith("Called")


@pytest.mark.parametrize(
    ("instrument", "total", "item_9", "ok"),
    [("bdi-ii", 63, 3, True), ("bdi-ii", 64, 3, False), ("bdi-ii", 0, 2, False), ("bdi-ii", 20, None, False), ("bdi-ii", 20, 4, False),
     ("ham-a", 56, None, True), ("ham-a", 57, None, False), ("ham-a", -1, None, False)],
)  # fmt: skip
def test_licensed_totals_entered_by_staff_are_range_checked_and_nothing_partial_is_written(
    cast, client_for, instrument, total, item_9, ok
):
    data = {"total-instrument": instrument, "total-total": str(total), "total-completed_on": "2026-01-05"}
    if item_9 is not None:
        data["total-item_bdi_ii_9"] = str(item_9)
    response = client_for(cast.bob).post(reverse("measures:enter_total", args=[cast.alice.pk]), data)
    assert response.status_code == (302 if ok else 400)
    saved = Assessment.objects.filter(patient=cast.alice, instrument_id=instrument)
    assert saved.count() == (1 if ok else 0)
    if ok:
        assert set(saved.get().answers) <= {"9"}


def test_bdi_ii_item_9_endorsed_raises_an_alert(cast, client_for):
    data = {"total-instrument": "bdi-ii", "total-total": "12", "total-completed_on": "2026-01-05",
            "total-item_bdi_ii_9": "1"}  # fmt: skip
    client_for(cast.bob).post(reverse("measures:enter_total", args=[cast.alice.pk]), data)
    assert CriticalAlert.objects.filter(patient=cast.alice).count() == 1


@pytest.mark.parametrize(
    ("instrument", "answers"),
    [("phq9", {1: 1, 2: 1, 9: 2}), ("cssrs-screener", {1: 1, 2: 1, 3: 1})],
)
def test_an_incomplete_submit_that_endorses_a_suicide_item_is_kept_alerts_the_team_and_shows_crisis_lines(
    cast, client_for, instrument, answers
):
    """[critical-item-practice] A patient who endorses a suicide item sees crisis resources at once and the care team is
    told: pressing submit before finishing must not lose that answer, as a save would not."""
    assessment = due_assessment(cast.alice, instrument)
    response = client_for(cast.alice_user).post(
        reverse("portal:questionnaire", args=[assessment.pk]), _post(answers, "submit")
    )
    page = response.content.decode()
    assert "988" in page and "not watched in real time" in page and "finish the questionnaire later" in page
    assert CriticalAlert.objects.filter(assessment=assessment).count() == 1
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.IN_PROGRESS and assessment.total is None
    assert {int(k): v for k, v in assessment.answers.items()} == answers


def test_an_incomplete_submit_without_a_suicide_item_still_saves_nothing(cast, client_for):
    assessment = due_assessment(cast.alice)
    response = client_for(cast.alice_user).post(
        reverse("portal:questionnaire", args=[assessment.pk]), _post({1: 2, 2: 2, 9: 0}, "submit")
    )
    assert response.status_code == 400 and _untouched(assessment) and not CriticalAlert.objects.exists()


def test_staff_submitting_early_with_an_endorsed_suicide_item_keep_the_answers_and_are_told_what_is_missing(
    cast, client_for
):
    assessment = due_assessment(cast.alice)
    url = reverse("measures:record", args=[cast.alice.pk, assessment.pk])
    response = client_for(cast.bob).post(url, _post({9: 1}, "submit"), follow=True)
    page = response.content.decode()
    assert "Not submitted: questions 1, 2, 3, 4, 5, 6, 7, 8 are unanswered" in page
    assert CriticalAlert.objects.filter(assessment=assessment).count() == 1
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.IN_PROGRESS


def _entered_bdi(cast, patient, total=20, item_9=0):
    return services.assessment_record_total(
        actor=cast.bob if patient == cast.alice else cast.charlie,
        patient=patient,
        instrument_id="bdi-ii",
        total=total,
        completed_on=datetime.date(2026, 1, 5),
        items={9: item_9},
    )


def test_a_scheduled_occasion_of_another_patient_cannot_be_completed_with_this_patients_total(cast, client_for):
    danas = due_assessment(cast.dana, "bdi-ii")
    data = {"total-instrument": "bdi-ii", "total-total": "20", "total-completed_on": "2026-01-05",
            "total-item_bdi_ii_9": "0", "total-occasion": str(danas.pk)}  # fmt: skip
    response = client_for(cast.bob).post(reverse("measures:enter_total", args=[cast.alice.pk]), data)
    assert response.status_code == 400 and _untouched(danas)
    assert not Assessment.objects.filter(patient=cast.alice).exists()


def test_another_patients_entered_total_cannot_be_amended_through_this_patients_address(cast, client_for):
    danas = _entered_bdi(cast, cast.dana)
    prefix = f"amend-{danas.pk}"
    data = {f"{prefix}-action": "correct", f"{prefix}-total": "5", f"{prefix}-completed_on": "2026-01-05",
            f"{prefix}-reason": "typo"}  # fmt: skip
    url = reverse("measures:amend_total", args=[cast.alice.pk, danas.pk])
    assert client_for(cast.bob).post(url, data).status_code == 404
    danas.refresh_from_db()
    assert danas.total == 20 and danas.amended_at is None


def test_correcting_a_bdi_ii_total_below_its_item_9_is_refused(cast, client_for):
    entered = _entered_bdi(cast, cast.alice, total=20, item_9=2)
    prefix = f"amend-{entered.pk}"
    data = {f"{prefix}-action": "correct", f"{prefix}-total": "1", f"{prefix}-completed_on": "2026-01-05",
            f"{prefix}-reason": "typo"}  # fmt: skip
    url = reverse("measures:amend_total", args=[cast.alice.pk, entered.pk])
    assert client_for(cast.bob).post(url, data).status_code == 400
    entered.refresh_from_db()
    assert entered.total == 20 and entered.amended_at is None
