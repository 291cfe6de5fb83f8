"""BDI-II and HAM-A in the course (scheduled totals, BDI-II item 9 on its own), the long-term safety follow-up
(KSET-style form, every N dosing sessions, review alerts) and urine drug screens."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from kapstone.measures import services
from kapstone.measures.assessment_plans import PlanError, due_items, load_plan, parse_plan
from kapstone.measures.models import SUICIDE_RISK, Assessment, CriticalAlert, UrineToxicology
from kapstone.practice.settings_store import practice_value_set
from tests.conftest import signed_in_client
from tests.measures.factories import due_assessment

TODAY = datetime.date.today


def scheduled(cast, instrument_id, occasion="baseline") -> Assessment:
    return due_assessment(cast.alice, instrument_id, occasion=occasion, group=cast.dosing_session().group)


def post_total(cast, user, **fields):
    data = {"total-completed_on": TODAY().isoformat(), **{f"total-{k}": v for k, v in fields.items()}}
    return signed_in_client(user).post(reverse("measures:enter_total", args=[cast.alice.pk]), data)


# --- BDI-II and HAM-A in the course -------------------------------------------------------------------------


def test_a_total_completes_the_scheduled_baseline_so_it_counts_in_the_course(cast):
    baseline = scheduled(cast, "bdi-ii")
    response = post_total(cast, cast.bob, instrument="bdi-ii", total="31", item_bdi_ii_9="0", occasion=str(baseline.pk))
    assert response.status_code == 302
    baseline.refresh_from_db()
    assert (baseline.status, baseline.total, baseline.severity, baseline.occasion) == (
        "completed",
        31,
        "severe",
        "baseline",
    )
    assert baseline.group_id is not None and baseline.source == Assessment.Source.STAFF_TOTAL
    assert Assessment.objects.filter(patient=cast.alice).count() == 1


def test_the_measures_page_offers_the_scheduled_total_as_an_occasion(cast):
    baseline = scheduled(cast, "ham-a")
    page = signed_in_client(cast.bob).get(reverse("measures:patient", args=[cast.alice.pk])).content.decode()
    assert f'value="{baseline.pk}"' in page and "HAM-A: Baseline" in page


def test_an_endorsed_bdi_ii_item_9_raises_the_suicide_risk_alert(cast):
    response = post_total(cast, cast.nurse, instrument="bdi-ii", total="18", item_bdi_ii_9="2")
    assert response.status_code == 302
    alert = CriticalAlert.objects.get(patient=cast.alice)
    assert alert.kind == SUICIDE_RISK and alert.priority == CriticalAlert.Priority.URGENT
    assert "Item 9" in alert.reason
    assert Assessment.objects.get().answers == {"9": 2}


def test_a_bdi_ii_total_without_item_9_is_refused_with_nothing_saved(cast):
    response = post_total(cast, cast.bob, instrument="bdi-ii", total="18")
    assert response.status_code == 400 and "Enter item 9" in response.content.decode()
    with pytest.raises(services.EnteredTotalError, match="item 9"):
        services.assessment_record_total(
            actor=cast.bob, patient=cast.alice, instrument_id="bdi-ii", total=18, completed_on=TODAY()
        )
    assert not Assessment.objects.exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"instrument": "ham-a", "total": "57"}, "between 0 and 56"),
        ({"instrument": "bdi-ii", "total": "10", "item_bdi_ii_9": "4"}, "less than or equal to 3"),
        ({"instrument": "ham-a", "total": "10", "item_bdi_ii_9": "1"}, "belongs to the BDI-II"),
    ],
)
def test_bad_totals_and_items_are_refused(cast, fields, message):
    response = post_total(cast, cast.bob, **fields)
    assert response.status_code == 400 and message in response.content.decode()
    assert not Assessment.objects.exists()


def test_a_scheduled_total_of_another_instrument_or_already_done_is_refused(cast):
    baseline = scheduled(cast, "ham-a")
    response = post_total(cast, cast.bob, instrument="bdi-ii", total="10", item_bdi_ii_9="0", occasion=str(baseline.pk))
    assert response.status_code == 400 and "for the HAM-A" in response.content.decode()
    services.assessment_record_total(
        actor=cast.bob, patient=cast.alice, instrument_id="ham-a", total=12, completed_on=TODAY(), scheduled=baseline
    )
    with pytest.raises(services.EnteredTotalError, match="completed"):
        services.assessment_record_total(
            actor=cast.bob, patient=cast.alice, instrument_id="ham-a", total=9, completed_on=TODAY(), scheduled=baseline
        )


def test_the_dore_2019_plan_adds_bdi_ii_and_ham_a_at_baseline_and_end_of_course(cast):
    practice_value_set(actor=None, key="measures.plan", value="dore-2019", reason="the practice's study")
    group = cast.dosing_session().group
    services.assessments_schedule_for_group(actor=cast.bob, group=group)
    mine = set(Assessment.objects.filter(patient=cast.alice).values_list("occasion", "instrument_id"))
    assert {
        ("baseline", "bdi-ii"),
        ("baseline", "ham-a"),
        ("end_of_course", "bdi-ii"),
        ("end_of_course", "ham-a"),
    } <= mine


def test_a_plan_extending_another_refuses_an_unknown_occasion():
    with pytest.raises(PlanError, match="does not have"):
        load_plan({"id": "x", "version": 1, "name": "x", "extends": "default", "add": {"week_9": ["phq9"]}})


# --- long-term safety follow-up -----------------------------------------------------------------------------


def _due(plan, dosings: int, setting=lambda key, default: default) -> list[str]:
    start = datetime.datetime(2025, 1, 6, 10, tzinfo=datetime.UTC)
    doses = [start + datetime.timedelta(weeks=n) for n in range(dosings)]
    items = due_items(plan, session_starts=doses, dosing_starts=doses, course_end=doses[-1], setting=setting)
    return [item.occasion for item in items if item.instrument_id == "kset-followup"]


def test_the_safety_follow_up_falls_due_every_n_dosing_sessions_and_at_every_follow_up():
    plan = load_plan()
    assert _due(plan, 7) == ["long_term_safety_3", "long_term_safety_6", "follow_up_1m", "follow_up_3m", "follow_up_6m"]
    every_second = _due(plan, 5, setting=lambda key, default: 2 if key.endswith("every_n_dosings") else default)
    assert every_second[:2] == ["long_term_safety_2", "long_term_safety_4"]


def test_every_nth_dosing_needs_the_each_dosing_anchor():
    occasion = {"id": "x", "anchor": "course_end", "window_days": 1, "instruments": ["phq9"]}
    with pytest.raises(PlanError, match="every_nth_dosing"):
        parse_plan(
            {
                "id": "p",
                "version": 1,
                "name": "p",
                "occasions": [{**occasion, "every_nth_dosing": {"setting": "s", "default": 2}}],
            }
        )


def kset(cast, answers: list[int], free_text=""):
    assessment = due_assessment(cast.alice, "kset-followup", occasion="follow_up_1m")
    services.assessment_save_answers(
        actor=cast.alice_user,
        assessment=assessment,
        answers=dict(enumerate(answers, 1)),
        submit=True,
        free_text=free_text,
    )
    assessment.refresh_from_db()
    return assessment


def test_a_yes_on_the_safety_follow_up_raises_a_review_alert_on_commit(cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assessment = kset(cast, [0, 1, 0, 0, 0, 1, 0, 1], free_text="  Ringing in my ears  ")
    alert = CriticalAlert.objects.get(patient=cast.alice)
    assert (alert.kind, alert.priority) == ("long_term_safety", CriticalAlert.Priority.REVIEW)
    assert "Urinary" in alert.reason and "outside the clinic" in alert.reason
    assert assessment.total == 3 and assessment.free_text == "Ringing in my ears"
    assert set(assessment.result["flags"]) == {"urinary", "craving_or_use", "other"}


def test_all_no_raises_nothing(cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        kset(cast, [0] * 8)
    assert not CriticalAlert.objects.exists()


def test_a_written_answer_too_long_or_on_a_form_without_one_is_refused(cast):
    with pytest.raises(services.InvalidAnswers, match="1000 characters"):
        kset(cast, [0] * 8, free_text="x" * 1001)
    with pytest.raises(services.InvalidAnswers, match="no written answer"):
        services.assessment_save_answers(
            actor=None, assessment=due_assessment(cast.alice), answers={}, submit=False, free_text="hello"
        )


def test_the_portal_form_asks_the_written_answer(cast):
    assessment = due_assessment(cast.alice, "kset-followup")
    page = signed_in_client(cast.alice_user).get(reverse("portal:questionnaire", args=[assessment.pk]))
    assert page.status_code == 200 and "what have you noticed?" in page.content.decode()


# --- urine drug screens -------------------------------------------------------------------------------------


def post_tox(cast, user, **fields):
    data = {"tox-collected_on": TODAY().isoformat(), **{f"tox-{k}": v for k, v in fields.items()}}
    return signed_in_client(user).post(reverse("measures:urine_toxicology", args=[cast.alice.pk]), data)


def test_a_substance_not_prescribed_raises_a_review_alert(cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_tox(
            cast,
            cast.nurse,
            result="positive",
            substances_found=["ketamine", "benzodiazepines"],
            prescribed_found=["benzodiazepines"],
        )
    assert response.status_code == 302
    screen = UrineToxicology.objects.get()
    assert screen.unexpected == ["ketamine"]
    alert = CriticalAlert.objects.get()
    assert alert.kind == "long_term_safety" and "Ketamine" in alert.reason


def test_a_prescribed_substance_alone_raises_nothing(cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_tox(
            cast,
            cast.bob,
            result="positive",
            substances_found=["benzodiazepines"],
            prescribed_found=["benzodiazepines"],
        )
    assert UrineToxicology.objects.count() == 1 and not CriticalAlert.objects.exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"result": "positive"}, "Tick what was found"),
        ({"result": "negative", "substances_found": ["cocaine"]}, "names nothing found"),
        ({"result": "negative", "prescribed_found": ["cocaine"]}, "Only a substance that was found"),
        ({"result": "glowing"}, "Select a valid choice"),
        ({"result": "positive", "substances_found": ["unobtainium"]}, "Select a valid choice"),
    ],
)
def test_a_bad_screen_is_refused_with_nothing_saved(cast, fields, message):
    response = post_tox(cast, cast.bob, **fields)
    assert response.status_code == 400 and message in response.content.decode()
    assert not UrineToxicology.objects.exists()


def test_a_clinician_outside_the_care_team_gets_404_and_saves_nothing(cast):
    assert post_tox(cast, cast.charlie, result="negative").status_code == 404
    assert not UrineToxicology.objects.exists()


def test_the_service_refuses_a_future_date_and_an_unknown_code(cast):
    future = timezone.localdate() + datetime.timedelta(days=5)
    with pytest.raises(services.ToxicologyError):
        services.urine_toxicology_record(
            actor=cast.bob,
            patient=cast.alice,
            collected_on=future,
            result="negative",
            substances_found=[],
            prescribed_found=[],
        )
    with pytest.raises(services.ToxicologyError, match="Unknown substance"):
        services.urine_toxicology_record(
            actor=cast.bob,
            patient=cast.alice,
            collected_on=TODAY(),
            result="positive",
            substances_found=["unobtainium"],
            prescribed_found=[],
        )
