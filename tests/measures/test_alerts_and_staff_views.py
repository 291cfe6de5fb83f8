import datetime
import re

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kapstone.audit.models import AuditEvent
from kapstone.measures import selectors, services
from kapstone.measures.models import AlertOccurrence, Assessment, CriticalAlert
from tests.conftest import make_patient, signed_in_client
from tests.measures.factories import PHQ9_ITEM9, PHQ9_MILD, due_assessment, open_alert


def _submit(assessment, answers, actor=None):
    return services.assessment_save_answers(actor=actor, assessment=assessment, answers=answers, submit=True)


@pytest.mark.parametrize(
    ("instrument_id", "answers", "rule"),
    [
        ("phq9", PHQ9_ITEM9, "suicidal_ideation"),
        ("qids-sr16", {**{n: 0 for n in range(1, 17)}, 12: 2}, "suicidal_ideation_high"),
        ("cssrs-screener", {1: 1, 2: 1, 3: 1, 4: 0, 5: 0, 6: 0}, "risk"),
        ("cssrs-screener", {1: 0, 2: 0, 3: None, 4: None, 5: None, 6: 1}, "risk"),
    ],
)
def test_critical_answers_raise_one_alert(cast, instrument_id, answers, rule):
    from kapstone.measures.scoring import get_instrument

    critical_rules = {f.id for f in get_instrument(instrument_id).flags if f.critical} | {"risk"}
    assert rule in critical_rules
    assessment = due_assessment(cast.alice, instrument_id)
    _submit(assessment, answers)
    alerts = CriticalAlert.objects.filter(assessment=assessment)
    assert [a.rule for a in alerts] == [rule]
    assert alerts[0].patient == cast.alice


def test_answers_without_a_suicide_item_raise_no_alert(cast):
    _submit(due_assessment(cast.alice, "phq9"), PHQ9_MILD)
    assert not CriticalAlert.objects.exists()


@pytest.mark.parametrize(
    ("instrument_id", "answers", "rule", "level"),
    [
        ("qids-sr16", {**{n: 0 for n in range(1, 17)}, 12: 1}, "suicidal_ideation", ""),
        ("cssrs-screener", {1: 1, 2: 0, 3: None, 4: None, 5: None, 6: 0}, "risk", "low"),
    ],
)
def test_suicide_answers_below_the_critical_rules_raise_a_review_alert_that_pages_nobody(
    cast, instrument_id, answers, rule, level
):
    _submit(due_assessment(cast.alice, instrument_id), answers)
    alert = CriticalAlert.objects.get()
    assert (alert.rule, alert.level, alert.priority) == (rule, level, CriticalAlert.Priority.REVIEW)
    assert not alert.pages


def test_an_alert_fires_exactly_once_per_assessment_and_rule(cast):
    alert = open_alert(cast.alice)
    services._alerts_raise(alert.assessment, services.score("phq9", PHQ9_ITEM9))
    assert CriticalAlert.objects.count() == 1 and alert.occurrences.count() == 1
    # The database holds the line too: one open alert per patient and kind, one occurrence per source.
    with pytest.raises(IntegrityError), transaction.atomic():
        CriticalAlert.objects.create(
            patient=cast.alice, rule=alert.rule, reason="again", raised_at=timezone.now(), join_key=alert.join_key
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        AlertOccurrence.objects.create(
            alert=alert,
            source_key=alert.occurrences.get().source_key,
            rule="x",
            priority=2,
            reason="x",
            at=timezone.now(),
        )


def test_acknowledging_needs_a_note(cast, client_for):
    alert = open_alert(cast.alice)
    client = client_for(cast.bob)
    response = client.post(reverse("measures:acknowledge", args=[alert.pk]), {"note": "   "})
    assert response.status_code == 400 and "“What was done” is required: fill it in." in response.content.decode()
    alert.refresh_from_db()
    assert alert.is_open
    with pytest.raises(ValueError, match="Write what was done"):
        services.alert_acknowledge(actor=cast.bob, alert=alert, note="")


def test_acknowledging_with_a_note_closes_the_alert_and_is_audited(cast, client_for):
    alert = open_alert(cast.alice)
    response = client_for(cast.bob).post(
        reverse("measures:acknowledge", args=[alert.pk]), {"note": "Called Alice; safety plan reviewed."}
    )
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by == cast.bob and alert.acknowledgement_note.startswith("Called")
    assert AuditEvent.objects.filter(object_type="critical_alert", object_id=str(alert.pk), action="update").exists()
    again = client_for(cast.bob).post(reverse("measures:acknowledge", args=[alert.pk]), {"note": "twice"}, follow=True)
    assert "already acknowledged" in again.content.decode()


def test_the_database_refuses_an_acknowledgement_without_a_note(cast):
    alert = open_alert(cast.alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        CriticalAlert.objects.filter(pk=alert.pk).update(acknowledged_at=timezone.now(), acknowledged_by=cast.bob)


def test_the_queue_shows_only_the_care_teams_alerts(cast, client_for):
    open_alert(cast.alice)
    dana_alert = open_alert(cast.dana)
    page = client_for(cast.bob).get(reverse("measures:alerts")).content.decode()
    assert "Alice Abernathy" in page and "Dana Delacroix" not in page
    # The record number stays on one line in its narrow column ("KP-" above "000001" was misread).
    assert f'<span class="muted nowrap">{cast.alice.record_number}</span>' in page
    assert '<button type="submit">Show alerts</button>' in page
    assert [a.pk for a in selectors.open_alerts_for(cast.charlie)] == [dana_alert.pk]
    assert len(selectors.open_alerts_for(cast.admin)) == 2
    # The care-team test runs per alert (patient_visible_to), with the same answer as the patient list's filter.
    alice_alerts = [a.pk for a in selectors.open_alerts_for(cast.therapist)]
    assert len(alice_alerts) == 1 and alice_alerts[0] != dana_alert.pk
    assert selectors.open_alerts_for(cast.researcher) == []


def test_acknowledged_alerts_leave_the_open_queue(cast, client_for):
    alert = open_alert(cast.alice)
    services.alert_acknowledge(actor=cast.bob, alert=alert, note="Seen in clinic.")
    client = client_for(cast.bob)
    assert "Alice Abernathy" not in client.get(reverse("measures:alerts")).content.decode()
    assert "Seen in clinic." in client.get(reverse("measures:alerts") + "?show=all").content.decode()
    assert selectors.open_alerts_for(cast.bob) == []


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_alert_queue_uses_the_same_number_of_queries_however_many_alerts(cast, client_for):
    client = client_for(cast.bob)
    url = reverse("measures:alerts")
    open_alert(cast.alice)
    _queries(client, url)
    before = _queries(client, url)
    for i in range(8):
        open_alert(make_patient(f"Extra{i}", "Many", team=[cast.bob]))
    assert _queries(client, url) == before


def test_the_measures_page_uses_the_same_number_of_queries_however_many_results(cast, client_for):
    client = client_for(cast.bob)
    url = reverse("measures:patient", args=[cast.alice.pk])
    # Two results, so change (its settings and the practice's baseline sample) is already read once.
    for _ in range(2):
        _submit(due_assessment(cast.alice), PHQ9_MILD)
    _queries(client, url)
    before = _queries(client, url)
    for instrument_id in ("gad7", "ebi", "qids-sr16", "gad7", "meq30", "ede-q"):
        _submit(due_assessment(cast.alice), PHQ9_MILD)
        due_assessment(cast.alice, instrument_id)
    open_alert(cast.alice)
    assert _queries(client, url) == before


def test_the_measures_page_shows_trajectory_change_and_markers(cast, client_for):
    start = timezone.now() - datetime.timedelta(days=70)
    for days, answers in [
        (0, {n: 2 for n in range(1, 10)} | {9: 0}),
        (35, {n: 1 for n in range(1, 10)}),
        (70, {n: 0 for n in range(1, 10)} | {1: 1}),
    ]:
        assessment = due_assessment(cast.alice)
        _submit(assessment, answers)
        Assessment.objects.filter(pk=assessment.pk).update(completed_at=start + datetime.timedelta(days=days))
    page = client_for(cast.bob).get(reverse("measures:patient", args=[cast.alice.pk])).content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart"' in page
    assert "<strong>-15</strong> points (-93.8%)" in page
    assert "response" in page and "remission" in page and "reliable improvement" in page
    assert "≥ 6 points" in page and "Kroenke K, Spitzer RL, Williams JBW. The PHQ-9" in page


def test_staff_enter_a_licensed_total_and_bad_totals_are_refused(cast, client_for):
    client = client_for(cast.nurse)
    url = reverse("measures:enter_total", args=[cast.alice.pk])
    today = timezone.localdate().isoformat()
    bad = client.post(url, {"total-instrument": "bdi-ii", "total-total": "64", "total-completed_on": today})
    assert bad.status_code == 400 and "between 0 and 63" in bad.content.decode()
    future = (timezone.localdate() + datetime.timedelta(days=2)).isoformat()
    assert (
        client.post(url, {"total-instrument": "bdi-ii", "total-total": "20", "total-completed_on": future}).status_code
        == 400
    )
    not_licensed = client.post(url, {"total-instrument": "phq9", "total-total": "5", "total-completed_on": today})
    assert not_licensed.status_code == 400
    assert not Assessment.objects.exists()
    assert (
        client.post(
            url,
            {
                "total-instrument": "bdi-ii",
                "total-total": "22",
                "total-item_bdi_ii_9": "0",
                "total-completed_on": today,
            },
        ).status_code
        == 302
    )
    recorded = Assessment.objects.get()
    assert (recorded.total, recorded.severity, recorded.entered_by, recorded.answers) == (
        22,
        "moderate",
        cast.nurse,
        {"9": 0},  # BDI-II item 9 on its own, never the other items
    )
    assert recorded.source == Assessment.Source.STAFF_TOTAL


def test_staff_record_a_full_questionnaire_on_the_patients_behalf(cast, client_for):
    client = client_for(cast.therapist)
    response = client.post(reverse("measures:start", args=[cast.alice.pk]), {"start-instrument": "gad7"})
    assessment = Assessment.objects.get()
    assert response.url == reverse("measures:record", args=[cast.alice.pk, assessment.pk])
    data = {f"item_{n}": "1" for n in range(1, 8)} | {"action": "submit"}
    assert client.post(response.url, data).status_code == 302
    assessment.refresh_from_db()
    assert (assessment.total, assessment.source, assessment.entered_by) == (7, "staff_items", cast.therapist)


def test_staff_starting_an_unknown_questionnaire_get_a_message(cast, client_for):
    response = client_for(cast.bob).post(reverse("measures:start", args=[cast.alice.pk]), {"start-instrument": "nope"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert not Assessment.objects.exists()


def test_an_assessment_of_another_patient_is_not_found_through_this_patients_url(cast, client_for):
    dana_assessment = due_assessment(cast.dana)
    url = reverse("measures:record", args=[cast.alice.pk, dana_assessment.pk])
    assert client_for(cast.bob).get(url).status_code == 404


def test_due_questionnaires_for_the_staff_home(cast):
    due = due_assessment(cast.alice)
    due_assessment(cast.alice, due_in_days=3)
    due_assessment(cast.dana)
    assert selectors.due_assessments_for(cast.bob) == [due]


def test_a_questionnaire_due_on_a_later_day_is_not_yet_due(cast):
    due_assessment(cast.alice, "phq9", occasion="baseline", due_in_days=-1)
    due_assessment(cast.alice, "gad7", occasion="follow_up_1m", due_in_days=20)
    page = signed_in_client(cast.bob).get(reverse("measures:patient", args=[cast.alice.pk])).content.decode()
    rows = re.findall(r"<tr><td>(PHQ-9|GAD-7)</td>.*?</td><td>.*?</td>\s*<td>([^<]*)", page, re.S)
    assert dict(rows) == {"PHQ-9": "Due", "GAD-7": "Not yet due"}
