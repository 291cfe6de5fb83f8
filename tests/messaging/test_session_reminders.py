"""In the day before each session its enrolled patients are reminded: with the video link when it is held by video,
and where at the practice when it is in person; never with the kind of session or the treatment."""

import datetime

import pytest
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone

from kapstone.integration import services as integration_services
from kapstone.integration.models import Notification, NotificationPreference
from kapstone.messaging import selectors, services
from kapstone.messaging.practice_settings import SESSION_REMINDER_LEAD_KEY
from kapstone.practice.models import PracticeSetting
from kapstone.practice.registry import SettingRefused, setting_spec
from kapstone.practice.services import practice_setting_change
from kapstone.program import services as program_services
from kapstone.program.models import Enrolment, GroupSession
from kapstone.program.signals import enrolment_left
from tests.conftest import signed_in_client
from tests.program.test_telehealth import integration_session

NO_QUIET = {"quiet_start": datetime.time(0), "quiet_end": datetime.time(0)}


def upcoming_integration_session(cast, *, hours_ahead: float = 5) -> GroupSession:
    session = integration_session(cast)
    session.starts_at = timezone.now() + datetime.timedelta(hours=hours_ahead)
    session.ends_at = session.starts_at + datetime.timedelta(hours=1)
    session.save(update_fields=["starts_at", "ends_at"])
    # These tests run at whatever hour CI does; the one about quiet hours sets its own.
    for enrolment in session.group.enrolments.all():
        NotificationPreference.objects.update_or_create(patient_id=enrolment.patient_id, defaults=NO_QUIET)
    return session


def reminders_of(patient):
    return list(Notification.objects.filter(kind=services.SESSION_REMINDER_KIND, patient=patient).order_by("pk"))


def test_the_reminder_of_a_session_held_by_video_carries_its_link(cast):
    session = upcoming_integration_session(cast)
    program_services.session_telehealth_set(
        actor=cast.bob, session=session, is_remote=True, video_url="https://video.example/alice-group"
    )
    services.session_reminders_send_due()
    (reminder,) = reminders_of(cast.alice)
    assert "held by video" in reminder.body and "https://video.example/alice-group" in reminder.body
    assert reminder.subject == "A reminder of your session with your care team"


def test_the_reminder_of_an_in_person_session_says_where_it_is_held_and_names_no_treatment(cast):
    session = upcoming_integration_session(cast)
    session.room = cast.dosing_session().room
    session.save(update_fields=["room"])
    services.session_reminders_send_due()
    (reminder,) = reminders_of(cast.alice)
    assert "held in person at the practice, Willow room" in reminder.body
    assert "video" not in reminder.body
    for word in ("integration", "ketamine", "dosing", "dose", "Abernathy"):
        assert word.lower() not in (reminder.subject + reminder.body).lower()


def test_the_reminder_of_a_session_supervised_at_home_does_not_send_the_patient_to_the_practice(cast):
    session = upcoming_integration_session(cast)
    session.dosing_setting = GroupSession.DosingSetting.SUPERVISED_HOME
    session.save(update_fields=["dosing_setting"])
    services.session_reminders_send_due()
    (reminder,) = reminders_of(cast.alice)
    assert "held at home" in reminder.body and "practice," not in reminder.body


def test_each_enrolled_patient_is_reminded_once_and_a_withdrawn_one_not_at_all(cast):
    session = upcoming_integration_session(cast)
    enrolments = list(session.group.enrolments.all())
    Enrolment.objects.filter(pk=enrolments[-1].pk).update(status=Enrolment.Status.WITHDRAWN)
    assert services.session_reminders_send_due() == len(enrolments) - 1
    assert services.session_reminders_send_due() == 0
    assert not reminders_of(enrolments[-1].patient)
    assert len(reminders_of(cast.alice)) == 1


def test_a_session_more_than_a_day_away_or_already_started_is_not_reminded(cast):
    upcoming_integration_session(cast, hours_ahead=30)
    cast.dosing_session()  # started now
    assert services.session_reminders_send_due() == 0


def test_a_session_that_goes_by_video_after_its_reminder_is_reminded_again_and_the_waiting_one_withdrawn(cast):
    session = upcoming_integration_session(cast)
    services.session_reminders_send_due()
    (in_person,) = reminders_of(cast.alice)
    # Still waiting, as one held back by the patient's quiet hours would be.
    Notification.objects.filter(pk=in_person.pk).update(
        status=Notification.Status.PENDING, scheduled_for=timezone.now() + datetime.timedelta(hours=2)
    )
    program_services.session_telehealth_set(
        actor=cast.bob, session=session, is_remote=True, video_url="https://video.example/moved-online"
    )
    services.session_reminders_send_due()
    first, second = reminders_of(cast.alice)
    assert first.pk == in_person.pk and first.status == Notification.Status.SKIPPED
    assert "https://video.example/moved-online" in second.body


def test_a_reminder_already_sent_is_left_as_sent_when_the_session_changes(cast):
    session = upcoming_integration_session(cast)
    services.session_reminders_send_due()
    (in_person,) = reminders_of(cast.alice)
    Notification.objects.filter(pk=in_person.pk).update(status=Notification.Status.SENT, sent_at=timezone.now())
    program_services.session_telehealth_set(
        actor=cast.bob, session=session, is_remote=True, video_url="https://video.example/moved-online"
    )
    services.session_reminders_send_due()
    first, second = reminders_of(cast.alice)
    assert first.status == Notification.Status.SENT and "moved-online" in second.body


def test_the_sweep_is_on_the_beat_schedule(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "kapstone.messaging.tasks.send_session_reminders" in tasks


def test_a_reminder_that_quiet_hours_would_hold_past_the_start_is_not_sent_and_one_after_them_is(cast):
    session = upcoming_integration_session(cast, hours_ahead=2)
    now = timezone.now().astimezone(datetime.UTC)
    quiet = {
        "time_zone": "UTC",
        "quiet_start": (now - datetime.timedelta(hours=1)).time().replace(second=0, microsecond=0),
        "quiet_end": (now + datetime.timedelta(hours=3)).time().replace(second=0, microsecond=0),
    }
    NotificationPreference.objects.update_or_create(patient=cast.alice, defaults=quiet)
    services.session_reminders_send_due()
    assert reminders_of(cast.alice) == []
    # Quiet hours that end an hour before the session hold the reminder until then.
    quiet["quiet_end"] = (now + datetime.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    NotificationPreference.objects.filter(patient=cast.alice).update(**quiet)
    services.session_reminders_send_due()
    (reminder,) = reminders_of(cast.alice)
    assert now + datetime.timedelta(minutes=50) < reminder.scheduled_for < session.starts_at


def test_the_practice_sets_how_long_before_a_session_its_reminder_goes_out(cast):
    session = upcoming_integration_session(cast, hours_ahead=30)
    assert selectors.session_reminder_lead() == datetime.timedelta(hours=24)
    assert services.session_reminders_send_due() == 0
    practice_setting_change(
        actor=cast.admin, key=SESSION_REMINDER_LEAD_KEY, raw_value="36", reason="Our patients travel far"
    )
    assert selectors.session_reminder_lead() == datetime.timedelta(hours=36)
    assert services.session_reminders_send_due() == session.group.enrolments.count()
    assert len(reminders_of(cast.alice)) == 1


def test_the_reminder_lead_is_the_admins_operational_setting_within_1_to_72_hours(cast):
    spec = setting_spec(SESSION_REMINDER_LEAD_KEY)
    assert not spec.clinical and spec.label == "Session reminders go out this long before the session"
    for typed in ("0", "73", "12.5", "a day"):
        with pytest.raises(SettingRefused, match="must be a whole number from 1 to 72"):
            practice_setting_change(actor=cast.admin, key=SESSION_REMINDER_LEAD_KEY, raw_value=typed, reason="r")
    with pytest.raises(SettingRefused, match="operational setting: the practice admin changes it"):
        practice_setting_change(actor=cast.bob, key=SESSION_REMINDER_LEAD_KEY, raw_value="12", reason="r")
    assert not PracticeSetting.objects.filter(key=SESSION_REMINDER_LEAD_KEY).exists()


def test_the_settings_page_lists_the_reminder_lead_under_messages_to_patients(cast):
    page = signed_in_client(cast.admin).get(reverse("practice:settings")).text
    assert "Messages to patients" in page and "Session reminders go out this long before the session" in page


def test_a_reminder_still_waiting_when_the_patient_leaves_the_group_is_withdrawn_and_never_sent(cast, mailoutbox):
    session = upcoming_integration_session(cast)
    services.session_reminders_send_due()
    (waiting,) = reminders_of(cast.alice)
    # Held back until the morning by the patient's quiet hours, as a reminder queued late in the evening is.
    Notification.objects.filter(pk=waiting.pk).update(
        status=Notification.Status.PENDING, scheduled_for=timezone.now() - datetime.timedelta(minutes=1)
    )
    enrolment = session.group.enrolments.get(patient=cast.alice)
    program_services.withdraw(actor=cast.bob, enrolment=enrolment, reason="Moved away")
    waiting.refresh_from_db()
    assert waiting.status == Notification.Status.SKIPPED and waiting.note == "the patient left the group"
    # Its own task, run after the withdrawal (a retry, a late delivery), sends nothing; nor does the sweep.
    assert integration_services.notification_deliver(notification_id=waiting.pk) == Notification.Status.SKIPPED
    services.session_reminders_send_due()
    assert [n.pk for n in reminders_of(cast.alice)] == [waiting.pk] and mailoutbox == []


def test_a_reminder_already_sent_stays_sent_when_the_patient_leaves_and_the_others_keep_theirs(cast):
    session = upcoming_integration_session(cast)
    services.session_reminders_send_due()
    (sent,) = reminders_of(cast.alice)
    Notification.objects.filter(pk=sent.pk).update(status=Notification.Status.SENT, sent_at=timezone.now())
    others = Notification.objects.filter(kind=services.SESSION_REMINDER_KIND).exclude(patient=cast.alice)
    Notification.objects.filter(pk__in=others).update(status=Notification.Status.PENDING)
    program_services.withdraw(
        actor=cast.bob, enrolment=session.group.enrolments.get(patient=cast.alice), reason="Moved away"
    )
    assert Notification.objects.get(pk=sent.pk).status == Notification.Status.SENT
    assert others.exists() and not others.exclude(status=Notification.Status.PENDING).exists()


def test_a_withdrawal_that_fails_after_its_reminders_were_withdrawn_withdraws_none(cast):
    session = upcoming_integration_session(cast)
    services.session_reminders_send_due()
    (waiting,) = reminders_of(cast.alice)
    Notification.objects.filter(pk=waiting.pk).update(status=Notification.Status.PENDING)

    def database_gone(sender, **kwargs):
        raise OperationalError("the database went away")

    # Connected after messaging's receiver, so it fails once the reminder has been marked withdrawn.
    enrolment_left.connect(database_gone, dispatch_uid="test.database_gone")
    enrolment = session.group.enrolments.get(patient=cast.alice)
    try:
        with pytest.raises(OperationalError):
            program_services.withdraw(actor=cast.bob, enrolment=enrolment, reason="Moved away")
    finally:
        enrolment_left.disconnect(dispatch_uid="test.database_gone")
    assert Notification.objects.get(pk=waiting.pk).status == Notification.Status.PENDING
    assert Enrolment.objects.get(pk=enrolment.pk).status == Enrolment.Status.ENROLLED
