import datetime
import smtplib

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from kapstone.measures import services
from kapstone.measures.assessment_plans import PlanError, due_items, load_plan
from kapstone.measures.models import Assessment, Invitation, ReminderLog
from kapstone.measures.tasks import send_due_reminders
from kapstone.program.models import GroupSession
from tests.measures.factories import PHQ9_MILD, due_assessment


def test_a_due_questionnaire_gets_one_invitation_with_a_working_link(cast, client_for):
    assessment = due_assessment(cast.alice)
    assert send_due_reminders.apply().get() == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@mail.example"] and "PHQ" not in message.body and "988" in message.body
    link = next(line for line in message.body.splitlines() if "/portal/i/" in line).split(": ", 1)[1]
    path = link.removeprefix("http://127.0.0.1:8000")
    response = client_for(cast.alice_user).get(path)
    assert response.url == reverse("portal:questionnaire", args=[assessment.pk])


def test_the_invitation_gives_the_practices_own_crisis_lines(cast):
    from kapstone.practice.settings_store import practice_value_set

    lines = [{"label": "Samaritans (UK)", "contact": "116 123"}]
    practice_value_set(actor=cast.admin, key="measures.crisis_resources", value=lines, reason="UK practice")
    due_assessment(cast.alice)
    send_due_reminders.apply()
    body = mail.outbox[0].body
    assert "Samaritans (UK): 116 123" in body and "988" not in body


def test_running_the_task_again_at_once_sends_nothing_twice(cast):
    due_assessment(cast.alice)
    send_due_reminders.apply()
    assert send_due_reminders.apply().get() == 0
    assert len(mail.outbox) == 1 and ReminderLog.objects.count() == 1


def test_reminders_repeat_at_the_interval_until_the_questionnaire_expires(cast):
    assessment = due_assessment(cast.alice)  # open for 7 days; the default interval is 2 days
    start = timezone.now()
    for day in range(0, 10):
        services.reminders_send_due(now=start + datetime.timedelta(days=day, minutes=1))
    sent = ReminderLog.objects.all()
    assert [r.sequence for r in sent] == [1, 2, 3, 4]  # days 0, 2, 4 and 6: past any fixed count of three
    assert [(r.sent_at - start).days for r in sent] == [0, 2, 4, 6]
    assert "(reminder)" in mail.outbox[3].subject and "(reminder)" not in mail.outbox[0].subject
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.EXPIRED


def test_reminders_follow_the_practices_interval(cast):
    from kapstone.practice.settings_store import practice_value_set

    practice_value_set(actor=cast.admin, key="measures.reminder_every_days", value=1, reason="daily nudges")
    due_assessment(cast.alice)
    start = timezone.now()
    for day in range(0, 7):
        services.reminders_send_due(now=start + datetime.timedelta(days=day, minutes=1))
    assert ReminderLog.objects.count() == 7


def test_reminders_stop_once_the_questionnaire_is_done(cast):
    assessment = due_assessment(cast.alice)
    start = timezone.now()
    services.reminders_send_due(now=start)
    services.assessment_save_answers(actor=cast.alice_user, assessment=assessment, answers=PHQ9_MILD, submit=True)
    services.reminders_send_due(now=start + datetime.timedelta(days=3))
    assert len(mail.outbox) == 1


def test_a_patient_with_several_due_questionnaires_gets_one_message(cast):
    due_assessment(cast.alice, "phq9")
    due_assessment(cast.alice, "gad7")
    services.reminders_send_due()
    assert len(mail.outbox) == 1 and mail.outbox[0].body.count("/portal/i/") == 2
    assert Invitation.objects.count() == 2


def test_a_failed_send_records_nothing_so_a_retry_sends_it(cast, monkeypatch):
    due_assessment(cast.alice)

    def broken(**kwargs):
        raise ConnectionError("mail server down")

    working = services.invitation_send
    monkeypatch.setattr(services, "invitation_send", broken)
    with pytest.raises(services.RemindersNotDelivered):
        services.reminders_send_due()
    assert not ReminderLog.objects.exists() and not Invitation.objects.exists()
    monkeypatch.setattr(services, "invitation_send", working)
    services.reminders_send_due()
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_the_message_leaves_after_its_invitations_are_committed(cast, monkeypatch):
    """A link followed the moment the message arrives must find its invitation (it was a 404 while the message
    was sent inside the transaction that wrote it)."""
    due_assessment(cast.alice)
    seen = []
    working = services.invitation_send

    def checking(**kwargs):
        seen.append((connection.in_atomic_block, Invitation.objects.count()))
        working(**kwargs)

    monkeypatch.setattr(services, "invitation_send", checking)
    assert services.reminders_send_due() == 1
    assert seen == [(False, 1)] and len(mail.outbox) == 1


def test_overdue_questionnaires_expire_and_are_not_reminded(cast):
    assessment = due_assessment(cast.alice)
    services.reminders_send_due(now=timezone.now() + datetime.timedelta(days=8))
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.EXPIRED and mail.outbox == []


def test_future_questionnaires_are_not_sent_yet(cast):
    due_assessment(cast.alice, due_in_days=2)
    services.reminders_send_due()
    assert mail.outbox == []


def test_the_send_reminders_command_runs_the_task(cast):
    due_assessment(cast.alice)
    from io import StringIO

    out = StringIO()
    call_command("send_reminders", stdout=out)
    assert "1 questionnaire" in out.getvalue() and len(mail.outbox) == 1


# --- the plan and scheduling --------------------------------------------------------------------------------


def test_the_default_plan_loads_with_every_source():
    plan = load_plan()
    assert [o.id for o in plan.occasions] == [
        "baseline",
        "pre_dosing",
        "day_after_dosing",
        "long_term_safety",
        "end_of_course",
        "follow_up_1m",
        "follow_up_3m",
        "follow_up_6m",
    ]
    import yaml

    from kapstone.measures.assessment_plans import PLANS_DIR

    raw = yaml.safe_load((PLANS_DIR / "default.yaml").read_text())
    assert all(occasion.get("source") for occasion in raw["occasions"])


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (
            {
                "id": "x",
                "version": 1,
                "name": "x",
                "occasions": [{"id": "a", "anchor": "moon", "window_days": 1, "instruments": ["phq9"]}],
            },
            "anchor",
        ),
        (
            {
                "id": "x",
                "version": 1,
                "name": "x",
                "occasions": [{"id": "a", "anchor": "course_end", "window_days": 1, "instruments": ["phq10"]}],
            },
            "phq10",
        ),
        ({"id": "x", "version": 1, "name": "x"}, "occasions"),
        ("../../settings", "no assessment plan"),
    ],
)
def test_a_broken_plan_is_refused_with_a_message(plan, message):
    with pytest.raises(PlanError, match=message):
        load_plan(plan)


def test_due_dates_follow_the_sessions_and_the_indication():
    start = datetime.datetime(2026, 3, 2, 10, tzinfo=datetime.UTC)
    dosing = [start + datetime.timedelta(days=7 * n) for n in (1, 3)]
    items = due_items(
        load_plan(),
        session_starts=[start, *dosing],
        dosing_starts=dosing,
        course_end=dosing[-1] + datetime.timedelta(hours=3),
        primary_icd10_codes=["F43.12"],
    )
    by_key = {(i.occasion, i.instrument_id): i for i in items}
    assert by_key[("baseline", "phq9")].due_at == start - datetime.timedelta(days=7)
    assert ("baseline", "pcl5") in by_key and ("pre_dosing_1", "pcl5") not in by_key
    assert by_key[("pre_dosing_2", "phq9")].expires_at == dosing[1]
    assert by_key[("day_after_dosing_1", "ebi")].due_at == dosing[0] + datetime.timedelta(days=1)
    assert by_key[("follow_up_3m", "gad7")].due_at == dosing[-1] + datetime.timedelta(hours=3, days=91)
    assert ("baseline", "cssrs-screener") in by_key


def test_scheduling_a_group_is_idempotent(cast):
    session = cast.dosing_session()
    GroupSession.objects.create(
        group=session.group,
        kind=GroupSession.Kind.DOSING,
        number=2,
        starts_at=session.starts_at + datetime.timedelta(days=14),
        ends_at=session.ends_at + datetime.timedelta(days=14),
    )
    created = services.assessments_schedule_for_group(actor=cast.bob, group=session.group)
    # Per patient: baseline 3 + 2 x (pre-dosing PHQ-9 + EBI) + end 3 + three follow-ups x 2 = 16.
    assert created == 3 * 19  # 16, and the long-term safety follow-up at 1, 3 and 6 months
    assert services.assessments_schedule_for_group(actor=cast.bob, group=session.group) == 0
    assert Assessment.objects.filter(patient=cast.alice).count() == 19


def test_the_course_ends_with_its_last_session_before_follow_up(cast):
    session = cast.dosing_session()
    GroupSession.objects.create(
        group=session.group,
        kind=GroupSession.Kind.FOLLOW_UP,
        number=1,
        starts_at=session.starts_at + datetime.timedelta(days=180),
        ends_at=session.ends_at + datetime.timedelta(days=180),
    )
    services.assessments_schedule_for_group(actor=cast.bob, group=session.group)
    end = Assessment.objects.get(patient=cast.alice, occasion="end_of_course", instrument_id="phq9")
    one_month = Assessment.objects.get(patient=cast.alice, occasion="follow_up_1m", instrument_id="phq9")
    assert end.due_at == session.ends_at
    assert one_month.due_at == session.ends_at + datetime.timedelta(days=30)


def test_scheduling_a_group_again_after_a_dosing_session_moves_re_dates_only_open_questionnaires(cast):
    session = cast.dosing_session()
    second = GroupSession.objects.create(
        group=session.group,
        kind=GroupSession.Kind.DOSING,
        number=2,
        starts_at=session.starts_at + datetime.timedelta(days=14),
        ends_at=session.ends_at + datetime.timedelta(days=14),
    )
    services.assessments_schedule_for_group(actor=cast.bob, group=session.group)
    pre_dose = Assessment.objects.filter(occasion="pre_dosing_2")
    answered = pre_dose.get(patient=cast.alice)
    pre_dose.filter(pk=answered.pk).update(status=Assessment.Status.COMPLETED)

    later = second.starts_at + datetime.timedelta(days=3)
    GroupSession.objects.filter(pk=second.pk).update(starts_at=later, ends_at=later + datetime.timedelta(hours=3))
    assert services.assessments_schedule_for_group(actor=cast.bob, group=session.group) == 0

    assert {(a.due_at, a.expires_at) for a in pre_dose.exclude(pk=answered.pk)} == {
        (later - datetime.timedelta(days=2), later)
    }
    assert pre_dose.get(pk=answered.pk).due_at == answered.due_at


def test_scheduling_through_the_view_reports_what_was_created(cast, client_for):
    group = cast.dosing_session().group
    response = client_for(cast.bob).post(reverse("measures:schedule_group", args=[group.pk]), follow=True)
    assert "questionnaires scheduled for Tuesday group" in response.content.decode()
    assert client_for(cast.bob).post(
        reverse("measures:schedule_group", args=[group.pk]), {"next": "https://evil.example/"}
    ).url == reverse("measures:alerts")


def test_one_mailbox_that_refuses_mail_does_not_stop_the_patients_after_it(cast, monkeypatch):
    due_assessment(cast.alice)
    due_assessment(cast.dana)
    working = services.invitation_send

    def refuses_alice(*, patient, **kwargs):
        if patient.pk == cast.alice.pk:
            raise smtplib.SMTPRecipientsRefused({patient.email: (550, b"mailbox unavailable")})
        working(patient=patient, **kwargs)

    monkeypatch.setattr(services, "invitation_send", refuses_alice)
    for _ in range(2):  # and in every round after it
        with pytest.raises(services.RemindersNotDelivered, match="1 patients"):
            services.reminders_send_due()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [cast.dana.email]
    assert not ReminderLog.objects.filter(assessment__patient=cast.alice).exists()
