"""Critical alerts on partial saves and escalation: the queue shows the highest risk the answers reached, and
each rule fires once per assessment and level."""

import pytest
from django.urls import reverse

from kapstone.audit.models import AuditEvent
from kapstone.measures import services
from kapstone.measures.models import CriticalAlert
from tests.measures.factories import PHQ9_ITEM9, due_assessment

CSSRS_MODERATE_SO_FAR = {1: 1, 2: 1, 3: 1}  # Q4-Q6 not yet answered
CSSRS_HIGH = {1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1}
CSSRS_MODERATE = {1: 1, 2: 1, 3: 1, 4: 0, 5: 0, 6: 0}
CSSRS_RECENT_BEHAVIOUR_SO_FAR = {6: 1}


def _save(assessment, answers, *, submit):
    return services.assessment_save_answers(actor=None, assessment=assessment, answers=answers, submit=submit)


def test_a_cssrs_partial_save_at_moderate_then_a_high_submit_leaves_one_open_alert_at_high(cast, client_for):
    assessment = due_assessment(cast.alice, "cssrs-screener")
    _save(assessment, CSSRS_MODERATE_SO_FAR, submit=False)
    moderate = CriticalAlert.objects.get(assessment=assessment)
    assert (moderate.rule, moderate.level) == (
        "risk",
        "moderate",
    ) and "C-SSRS Screener: Moderate risk." in moderate.reason

    _save(assessment, CSSRS_HIGH, submit=True)
    alert = CriticalAlert.objects.get(assessment=assessment)
    assert alert.pk == moderate.pk and alert.is_open
    assert alert.level == "high" and "C-SSRS Screener: High risk." in alert.reason
    updates = AuditEvent.objects.filter(object_type="critical_alert", object_id=str(alert.pk), action="update")
    assert [event.detail_data["escalated_from"] for event in updates] == ["moderate"]
    queue = client_for(cast.bob).get(reverse("measures:alerts")).content.decode()
    assert "High risk" in queue and "Moderate risk" not in queue


def test_a_higher_level_after_the_lower_alert_was_acknowledged_is_a_new_alert(cast):
    assessment = due_assessment(cast.alice, "cssrs-screener")
    _save(assessment, CSSRS_MODERATE_SO_FAR, submit=False)
    moderate = CriticalAlert.objects.get(assessment=assessment)
    services.alert_acknowledge(actor=cast.bob, alert=moderate, note="Called Alice; safety plan reviewed.")

    _save(assessment, CSSRS_HIGH, submit=True)
    alerts = {a.level: a for a in CriticalAlert.objects.filter(assessment=assessment)}
    assert set(alerts) == {"moderate", "high"}
    assert not alerts["moderate"].is_open and alerts["high"].is_open
    assert [a.level for a in CriticalAlert.objects.filter(acknowledged_at__isnull=True)] == ["high"]


def test_answers_changed_downwards_neither_lower_nor_repeat_an_alert(cast):
    assessment = due_assessment(cast.alice, "cssrs-screener")
    _save(assessment, CSSRS_RECENT_BEHAVIOUR_SO_FAR, submit=False)
    _save(assessment, CSSRS_MODERATE, submit=True)
    alert = CriticalAlert.objects.get(assessment=assessment)
    assert alert.level == "high" and "Suicidal behaviour in the past 3 months" in alert.reason


@pytest.mark.parametrize(
    ("instrument_id", "partial", "complete", "rule"),
    [
        ("phq9", {9: 2}, PHQ9_ITEM9, "suicidal_ideation"),
        ("qids-sr16", {12: 2}, {**{n: 0 for n in range(1, 17)}, 12: 3}, "suicidal_ideation_high"),
        ("cssrs-screener", CSSRS_RECENT_BEHAVIOUR_SO_FAR, {1: 0, 2: 0, 6: 1}, "risk"),
    ],
)
def test_every_critical_rule_fires_on_a_partial_save_and_once_only_after_the_submit(
    cast, instrument_id, partial, complete, rule
):
    assessment = due_assessment(cast.alice, instrument_id)
    _save(assessment, partial, submit=False)
    first = CriticalAlert.objects.get(assessment=assessment)
    assert first.rule == rule and first.is_open
    _save(assessment, partial, submit=False)
    _save(assessment, complete, submit=True)
    assert list(CriticalAlert.objects.filter(assessment=assessment)) == [first]
    assert AuditEvent.objects.filter(object_type="critical_alert", action="create").count() == 1


def test_a_qids_item_12_of_1_is_a_review_alert_that_rises_in_place_when_the_submit_makes_it_critical(cast):
    assessment = due_assessment(cast.alice, "qids-sr16")
    _save(assessment, {12: 1}, submit=False)
    review = CriticalAlert.objects.get()
    assert (review.rule, review.priority, review.pages) == ("suicidal_ideation", CriticalAlert.Priority.REVIEW, False)
    _save(assessment, {**{n: 0 for n in range(1, 17)}, 12: 2}, submit=True)
    alert = CriticalAlert.objects.get()
    assert alert.pk == review.pk and alert.rule == "suicidal_ideation_high" and alert.pages
    assert [o.priority for o in alert.occurrences.all()] == [
        CriticalAlert.Priority.REVIEW,
        CriticalAlert.Priority.URGENT,
    ]


def test_the_migration_reads_the_level_of_alerts_raised_before_it_had_a_column(cast):
    import importlib

    from django.apps import apps
    from django.utils import timezone

    migration = importlib.import_module("kapstone.measures.migrations.0002_alert_level")
    assessment = due_assessment(cast.alice, "cssrs-screener")
    old = CriticalAlert.objects.create(
        assessment=assessment,
        patient=cast.alice,
        join_key="before",
        rule="risk",
        reason="C-SSRS Screener: triage risk high. Suicidal behaviour in the past 3 months.",
        raised_at=timezone.now(),
    )
    migration.level_from_reason(apps, None)
    old.refresh_from_db()
    assert old.level == "high"
