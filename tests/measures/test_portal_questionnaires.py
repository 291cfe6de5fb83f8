import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kapstone.measures import services
from kapstone.measures.models import Assessment, CriticalAlert, Invitation
from tests.measures.factories import PHQ9_ITEM9, PHQ9_MILD, due_assessment


def _post(answers: dict[int, int], action: str) -> dict:
    return {**{f"item_{n}": str(v) for n, v in answers.items()}, "action": action}


@pytest.fixture
def alice_client(cast, client_for):
    return client_for(cast.alice_user)


def test_an_invitation_opens_the_questionnaire_once(cast, alice_client):
    assessment = due_assessment(cast.alice)
    _, token = services.invitation_create(assessment=assessment)
    url = reverse("portal:invitation", args=[token])
    first = alice_client.get(url)
    assert first.status_code == 302 and first.url == reverse("portal:questionnaire", args=[assessment.pk])
    second = alice_client.get(url, follow=True)
    assert "already been used" in second.content.decode()
    assert Invitation.objects.get().used_at is not None


def test_an_expired_invitation_does_not_open_the_questionnaire(cast, alice_client):
    assessment = due_assessment(cast.alice)
    invitation, token = services.invitation_create(assessment=assessment)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    response = alice_client.get(reverse("portal:invitation", args=[token]), follow=True)
    assert "has expired" in response.content.decode()
    assert Invitation.objects.get().used_at is None


def test_someone_elses_or_a_forged_invitation_is_not_found(cast, client_for):
    _, token = services.invitation_create(assessment=due_assessment(cast.alice))
    assert client_for(cast.dana_user).get(reverse("portal:invitation", args=[token])).status_code == 404
    assert client_for(cast.alice_user).get(reverse("portal:invitation", args=["forged"])).status_code == 404
    assert Invitation.objects.get().used_at is None


def test_only_the_patients_own_questionnaire_that_the_portal_asks_opens(cast, client_for):
    """The questionnaire's read is compiled once for every patient (issue 19): bound to each, it finds only their own,
    and never one the care team completes with the patient, nor a number no row can have."""
    own = due_assessment(cast.alice)
    with_the_care_team = due_assessment(cast.alice, "ham-a")
    alice, dana = client_for(cast.alice_user), client_for(cast.dana_user)
    assert alice.get(reverse("portal:questionnaire", args=[own.pk])).status_code == 200
    assert dana.get(reverse("portal:questionnaire", args=[own.pk])).status_code == 404
    assert alice.get(reverse("portal:questionnaire", args=[with_the_care_team.pk])).status_code == 404
    assert alice.get(f"/portal/questionnaires/{2**70}/").status_code == 404


def test_invitations_store_only_a_hash_of_the_token(cast):
    invitation, token = services.invitation_create(assessment=due_assessment(cast.alice))
    assert token not in invitation.token_hash and len(invitation.token_hash) == 64


def test_a_signed_out_patient_following_an_invitation_is_asked_to_sign_in_first(cast, client):
    _, token = services.invitation_create(assessment=due_assessment(cast.alice))
    response = client.get(reverse("portal:invitation", args=[token]))
    assert response.status_code == 302 and response.url.startswith(reverse("accounts:login"))
    assert Invitation.objects.get().used_at is None


def test_the_form_has_one_fieldset_per_question_with_radio_buttons(cast, alice_client):
    assessment = due_assessment(cast.alice)
    page = alice_client.get(reverse("portal:questionnaire", args=[assessment.pk])).content.decode()
    assert page.count("<fieldset") == 9
    assert page.count('type="radio"') == 36
    assert "not watched in real time" in page
    # Its two buttons say what each does with the answers.
    assert '<button type="submit" name="action" value="submit">Submit answers</button>' in page
    assert ">Save and finish later</button>" in page


def test_opening_a_questionnaire_writes_a_read_to_the_audit_trail(cast, alice_client):
    from kapstone.audit.models import AuditEvent

    assessment = due_assessment(cast.alice)
    assert alice_client.get(reverse("portal:questionnaire", args=[assessment.pk])).status_code == 200
    read = AuditEvent.objects.get(action="read", object_type="assessment")
    assert read.patient_id == cast.alice.pk and read.object_id == str(assessment.pk)


def test_a_partial_save_keeps_the_answers_for_later(cast, alice_client):
    assessment = due_assessment(cast.alice)
    url = reverse("portal:questionnaire", args=[assessment.pk])
    response = alice_client.post(url, {"item_1": "2", "item_2": "1", "action": "save"})
    assert response.status_code == 302
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.IN_PROGRESS
    assert assessment.answers == {"1": 2, "2": 1} and assessment.total is None
    page = alice_client.get(url).content.decode()
    assert 'value="2" required' not in page  # fields stay optional for another partial save
    assert page.count("checked") == 2


def test_submitting_scores_the_questionnaire(cast, alice_client):
    assessment = due_assessment(cast.alice)
    alice_client.post(reverse("portal:questionnaire", args=[assessment.pk]), _post(PHQ9_MILD, "submit"))
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.COMPLETED
    assert assessment.total == 6 and assessment.severity == "mild" and assessment.instrument_version == 1
    assert not CriticalAlert.objects.exists()


def test_an_incomplete_submission_is_rejected_with_a_message_and_nothing_saved(cast, alice_client):
    assessment = due_assessment(cast.alice)
    answers = dict(PHQ9_MILD)
    del answers[4]
    response = alice_client.post(reverse("portal:questionnaire", args=[assessment.pk]), _post(answers, "submit"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "still unanswered: 4" in page and "Please answer this question." in page
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.DUE and assessment.answers == {}


@pytest.mark.parametrize("bad", ["7", "-1", "two", "1.5"])
def test_an_out_of_range_or_non_numeric_answer_is_rejected_and_nothing_saved(cast, alice_client, bad):
    assessment = due_assessment(cast.alice)
    data = _post(PHQ9_MILD, "save")
    data["item_3"] = bad
    response = alice_client.post(reverse("portal:questionnaire", args=[assessment.pk]), data)
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.DUE and assessment.answers == {}


def test_a_number_box_answer_outside_its_range_is_rejected(cast, client_for):
    # The EBI ships without its wording, so staff fill it in with the patient; the form is the portal's.
    assessment = due_assessment(cast.alice, "ebi")
    response = client_for(cast.bob).post(
        reverse("measures:record", args=[cast.alice.pk, assessment.pk]), {"item_1": "101", "action": "save"}
    )
    assert response.status_code == 400 and "less than or equal to 100" in response.content.decode()
    assessment.refresh_from_db()
    assert assessment.answers == {}


def test_a_contradictory_skip_answer_is_rejected_by_the_scoring_engine(cast, alice_client):
    assessment = due_assessment(cast.alice, "cssrs-screener")
    data = {"item_1": "0", "item_2": "0", "item_3": "1", "item_4": "0", "item_5": "0", "item_6": "0"}
    response = alice_client.post(reverse("portal:questionnaire", args=[assessment.pk]), {**data, "action": "submit"})
    assert response.status_code == 400 and "cannot be 1" in response.content.decode()
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.DUE


def test_endorsing_item_9_shows_crisis_resources_at_once(cast, alice_client):
    assessment = due_assessment(cast.alice)
    response = alice_client.post(reverse("portal:questionnaire", args=[assessment.pk]), _post(PHQ9_ITEM9, "submit"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "988" in page and "not watched in real time" in page
    assert CriticalAlert.objects.filter(assessment=assessment, rule="suicidal_ideation").count() == 1


def test_crisis_resources_show_even_on_a_partial_save_and_the_alert_fires_then(cast, alice_client):
    assessment = due_assessment(cast.alice)
    url = reverse("portal:questionnaire", args=[assessment.pk])
    response = alice_client.post(url, {"item_9": "1", "action": "save"})
    assert "988" in response.content.decode()
    assert CriticalAlert.objects.count() == 1
    alice_client.post(url, _post(PHQ9_ITEM9, "submit"))
    assert CriticalAlert.objects.count() == 1


def test_the_practice_can_set_its_own_crisis_lines(cast, alice_client):
    from kapstone.practice.settings_store import practice_value_set

    lines = [{"label": "Samaritans (UK)", "contact": "116 123"}]
    practice_value_set(actor=cast.admin, key="measures.crisis_resources", value=lines, reason="UK practice")
    assessment = due_assessment(cast.alice)
    page = alice_client.post(
        reverse("portal:questionnaire", args=[assessment.pk]), _post(PHQ9_ITEM9, "submit")
    ).content.decode()
    assert "116 123" in page


def test_a_completed_questionnaire_cannot_be_changed(cast, alice_client):
    assessment = due_assessment(cast.alice)
    url = reverse("portal:questionnaire", args=[assessment.pk])
    alice_client.post(url, _post(PHQ9_MILD, "submit"))
    response = alice_client.post(url, _post(PHQ9_ITEM9, "submit"))
    assert response.status_code == 302
    assessment.refresh_from_db()
    assert assessment.total == 6 and not CriticalAlert.objects.exists()


def test_the_portal_home_lists_due_questionnaires_but_not_future_or_done_ones(cast, alice_client):
    due = due_assessment(cast.alice, occasion="baseline")
    due_assessment(cast.alice, occasion="follow_up_1m", due_in_days=20)
    done = due_assessment(cast.alice, occasion="pre_dosing_1")
    services.assessment_save_answers(actor=cast.alice_user, assessment=done, answers=PHQ9_MILD, submit=True)
    page = alice_client.get(reverse("portal:home")).content.decode()
    assert reverse("portal:questionnaire", args=[due.pk]) in page
    assert "Follow up 1m" not in page and reverse("portal:questionnaire", args=[done.pk]) not in page


def _complete(patient, user, when, answers):
    assessment = due_assessment(patient)
    services.assessment_save_answers(actor=user, assessment=assessment, answers=answers, submit=True)
    Assessment.objects.filter(pk=assessment.pk).update(completed_at=when)


def test_the_history_page_shows_a_chart_and_a_table(cast, alice_client):
    start = timezone.now() - datetime.timedelta(days=60)
    _complete(cast.alice, cast.alice_user, start, PHQ9_ITEM9)
    _complete(cast.alice, cast.alice_user, start + datetime.timedelta(days=30), PHQ9_MILD)
    page = alice_client.get(reverse("portal:history")).content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart"' in page
    assert "<td>10</td>" in page and "<td>6</td>" in page
    assert "Measures depression severity. A lower score means fewer symptoms." in page
    assert "{#" not in page and "#}" not in page  # a template comment once spilled onto the page


def test_the_history_page_does_not_call_an_emotional_breakthrough_score_symptoms(cast, alice_client):
    done = due_assessment(cast.alice, "ebi")
    Assessment.objects.filter(pk=done.pk).update(
        status=Assessment.Status.COMPLETED, completed_at=timezone.now(), total=40.0
    )
    page = alice_client.get(reverse("portal:history")).content.decode()
    assert "Measures emotional breakthrough during a dosing session.</p>" in page
    assert "fewer symptoms" not in page


def test_the_history_page_shows_a_range_column_only_for_a_questionnaire_with_ranges(cast, alice_client):
    done = due_assessment(cast.alice, "ebi")
    Assessment.objects.filter(pk=done.pk).update(
        status=Assessment.Status.COMPLETED, completed_at=timezone.now(), total=40.0
    )
    page = alice_client.get(reverse("portal:history")).content.decode()
    assert '<th scope="col">Range</th>' not in page and "<td>—</td>" not in page
    _complete(cast.alice, cast.alice_user, timezone.now() - datetime.timedelta(days=1), PHQ9_MILD)
    page = alice_client.get(reverse("portal:history")).content.decode()
    assert page.count('<th scope="col">Range</th>') == 1 and "<td>mild</td>" in page


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_history_page_uses_the_same_number_of_queries_however_long_the_history(cast, alice_client):
    url = reverse("portal:history")
    start = timezone.now() - datetime.timedelta(days=90)
    # Two results, so change (the practice's settings and baseline sample) is already read once.
    for day in range(2):
        _complete(cast.alice, cast.alice_user, start + datetime.timedelta(days=day), PHQ9_MILD)
    _queries(alice_client, url)
    before = _queries(alice_client, url)
    for day in range(2, 12):
        _complete(cast.alice, cast.alice_user, start + datetime.timedelta(days=day * 7), PHQ9_MILD)
    assert _queries(alice_client, url) == before


def test_the_history_page_reads_only_what_it_shows_of_each_questionnaire(cast, alice_client):
    """Issue 19: not the answers, the whole scoring result (only a screener's triage level) or who entered a total, which
    the patient's history never shows."""
    start = timezone.now() - datetime.timedelta(days=60)
    _complete(cast.alice, cast.alice_user, start, PHQ9_ITEM9)
    _complete(cast.alice, cast.alice_user, start + datetime.timedelta(days=30), PHQ9_MILD)
    with CaptureQueriesContext(connection) as queries:
        page = alice_client.get(reverse("portal:history")).content.decode()
    (read,) = [query["sql"] for query in queries if 'FROM "measures_assessment"' in query["sql"]]
    # Of the scoring result, only the triage level (a C-SSRS screener's result): never the whole result.
    assert '"answers"' not in read and "accounts_user" not in read
    assert '"triage_risk"' in read
    assert '"result"' not in re.sub(r"\"result\"(, '\$\.\"risk\"'|\s*->>?\s*'risk')", "", read)
    assert "<td>10</td>" in page and "<td>6</td>" in page


def test_the_portal_home_uses_the_same_number_of_queries_however_many_questionnaires_are_due(cast, alice_client):
    url = reverse("portal:home")
    due_assessment(cast.alice)
    _queries(alice_client, url)
    before = _queries(alice_client, url)
    for instrument_id in ("gad7", "pcl5", "cssrs-screener", "phq9", "ebi", "qids-sr16"):
        due_assessment(cast.alice, instrument_id)
    assert _queries(alice_client, url) == before


def test_the_portal_home_names_each_due_questionnaire_so_two_on_one_occasion_differ(cast, alice_client):
    due_assessment(cast.alice, "phq9", occasion="follow_up_6m")
    due_assessment(cast.alice, "gad7", occasion="follow_up_6m")
    page = alice_client.get(reverse("portal:home")).content.decode()
    assert "PHQ-9 · Follow up 6m" in page and "GAD-7 · Follow up 6m" in page


def test_an_ede_q_count_beyond_its_bound_is_refused_by_the_form_and_nothing_saved(cast, client_for):
    assessment = due_assessment(cast.alice, "ede-q")
    response = client_for(cast.bob).post(
        reverse("measures:record", args=[cast.alice.pk, assessment.pk]), {"item_13": str(10**12), "action": "save"}
    )
    assert response.status_code == 400 and "less than or equal to 2147483647" in response.content.decode()
    assessment.refresh_from_db()
    assert assessment.answers == {}


def _screened(cast, risk: str, days_ago: int = 0) -> None:
    done = due_assessment(cast.alice, "cssrs-screener")
    Assessment.objects.filter(pk=done.pk).update(
        status=Assessment.Status.COMPLETED,
        completed_at=timezone.now() - datetime.timedelta(days=days_ago),
        total=None,
        result={"risk": risk},
    )


def test_the_history_page_shows_each_screener_result_in_the_timelines_calm_words(cast, alice_client):
    """The C-SSRS screener has no total to chart, so the history left it out, though the timeline showed it."""
    from kapstone.integration.selectors import PATIENT_RISK_WORDS

    _screened(cast, "none", days_ago=30)
    _screened(cast, "moderate")
    page = alice_client.get(reverse("portal:history")).content.decode()
    assert "C-SSRS Screener</h2>" in page and "No completed questionnaires yet" not in page
    assert f"<td>{PATIENT_RISK_WORDS['none']}</td>" in page and f"<td>{PATIENT_RISK_WORDS['raised']}</td>" in page
    # The same words as the patient's timeline, never the level itself.
    timeline = alice_client.get(reverse("integration:my_timeline")).content.decode()
    assert PATIENT_RISK_WORDS["raised"] in timeline
    assert "moderate" not in page and "risk" not in page.lower().split("<main", 1)[-1]


def test_the_history_page_shows_no_other_patients_screener(cast, client_for):
    _screened(cast, "high")
    page = client_for(cast.dana_user).get(reverse("portal:history")).content.decode()
    assert "C-SSRS Screener" not in page and "No completed questionnaires yet" in page
