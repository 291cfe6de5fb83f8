"""At most LINK_MESSAGES_PER_DAY messages with a link go to one person in any 24 hours: portal invitations, staff
set-up links (sent again, or after a second-factor reset), password resets and questionnaire links. Without a cap a
staff member clicking "send again", or anyone at the reset form, could fill a mailbox from Kapstone. A refusal says
so plainly to staff, says nothing to an anonymous visitor, and is recorded."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from kapstone.accounts import services
from kapstone.accounts import tasks as accounts_tasks
from kapstone.accounts.models import AccountLink
from kapstone.audit.models import AuditEvent
from kapstone.measures import services as measures_services
from tests.conftest import make_patient, make_user, signed_in_client
from tests.measures.factories import due_assessment

LIMIT = 2
CONFIRMED = {"confirm": "yes"}


@pytest.fixture(autouse=True)
def limit(settings):
    settings.LINK_MESSAGES_PER_DAY = LIMIT


@pytest.fixture
def newcomer(cast):
    return make_patient("Nell", "Newcomer", team=[cast.bob])


def _refusals(purpose: str) -> list[AuditEvent]:
    return [event for event in AuditEvent.objects.filter(object_type="link_limit_reached") if purpose in event.detail]


def _a_day_passes():
    """Every link so far sent more than 24 hours ago."""
    AccountLink.objects.update(created_at=timezone.now() - datetime.timedelta(hours=24, minutes=1))


# --- portal invitations -----------------------------------------------------------------------------------------


def test_portal_invitations_stop_at_the_limit_with_a_message_and_a_record(cast, newcomer):
    client = signed_in_client(cast.bob)
    url = reverse("patients:portal_invite", args=[newcomer.pk])
    for _ in range(LIMIT):
        response = client.post(url, follow=True)
        assert "An invitation to choose a password is on its way" in response.content.decode()
    response = client.post(url, follow=True)
    page = response.content.decode()
    assert f"Kapstone has sent {LIMIT} messages with a link to nell@mail.example in the last 24 hours" in page
    assert len(mail.outbox) == LIMIT
    assert AccountLink.objects.filter(user__username="nell@mail.example").count() == LIMIT
    (refusal,) = _refusals("portal_invitation")
    assert (refusal.actor_id, refusal.patient_id) == (cast.bob.pk, newcomer.pk)
    _a_day_passes()
    assert "is on its way" in client.post(url, follow=True).content.decode()
    assert len(mail.outbox) == LIMIT + 1


def test_someone_outside_the_care_team_or_a_patient_cannot_send_invitations_at_all(cast, newcomer):
    url = reverse("patients:portal_invite", args=[newcomer.pk])
    assert signed_in_client(cast.charlie).post(url).status_code == 404
    assert signed_in_client(cast.researcher).post(url).status_code == 403
    assert signed_in_client(cast.alice_user).post(url).status_code == 403
    assert mail.outbox == [] and not AccountLink.objects.exists()


def test_an_invitation_that_could_not_be_sent_does_not_count(cast, newcomer, monkeypatch):
    def unsendable(**kwargs):
        raise OSError("mail server down")

    client = signed_in_client(cast.bob)
    url = reverse("patients:portal_invite", args=[newcomer.pk])
    working = services.send_mail
    monkeypatch.setattr(services, "send_mail", unsendable)
    for _ in range(LIMIT + 1):
        client.post(url)
    monkeypatch.setattr(services, "send_mail", working)
    assert "is on its way" in client.post(url, follow=True).content.decode()
    assert len(mail.outbox) == 1


# --- staff set-up links -----------------------------------------------------------------------------------------


@pytest.fixture
def waiting(cast):
    """A staff member added, still waiting to choose a password."""
    user = make_user("dr.wait", "therapist")
    user.set_unusable_password()
    user.save()
    return user


def test_set_up_links_sent_again_stop_at_the_limit(cast, waiting):
    client = signed_in_client(cast.admin)
    url = reverse("accounts:staff_action", args=[waiting.pk, "send_setup_link"])
    for _ in range(LIMIT):
        assert "A new set-up link is on its way" in client.post(url, follow=True).content.decode()
    page = client.post(url, follow=True).content.decode()
    assert f"Kapstone has sent {LIMIT} messages with a link to dr.wait@practice.example" in page
    assert len(mail.outbox) == LIMIT
    (refusal,) = _refusals("staff_setup")
    assert (refusal.actor_id, refusal.object_id) == (cast.admin.pk, str(waiting.pk))


def test_only_an_admin_sends_set_up_links(cast, waiting):
    url = reverse("accounts:staff_action", args=[waiting.pk, "send_setup_link"])
    for role in ("bob", "therapist", "researcher", "alice_user"):
        assert signed_in_client(cast.user(role)).post(url).status_code == 403, role
    assert mail.outbox == []


def test_a_second_factor_reset_beyond_the_limit_is_refused_whole(cast, waiting):
    client = signed_in_client(cast.admin)
    for _ in range(LIMIT):
        client.post(reverse("accounts:staff_action", args=[waiting.pk, "send_setup_link"]))
    TOTPDevice.objects.create(user=waiting, name="phone", confirmed=True)
    response = client.post(reverse("accounts:staff_action", args=[waiting.pk, "reset_two_factor"]), CONFIRMED)
    assert "messages with a link" in client.get(response.url).content.decode()
    assert TOTPDevice.objects.filter(user=waiting).exists(), "nothing was reset when no link could go"
    assert len(mail.outbox) == LIMIT


# --- password resets --------------------------------------------------------------------------------------------


def _reset(identifier: str, monkeypatch) -> tuple:
    """Asks for a reset as an anonymous visitor, and runs the worker's part as the broker would."""
    queued = []
    monkeypatch.setattr(accounts_tasks.send_password_reset, "delay", lambda *args: queued.append(args))
    with CaptureQueriesContext(connection) as queries:
        response = Client().post(reverse("accounts:password_reset"), {"identifier": identifier})
    for args in queued:
        accounts_tasks.send_password_reset(*args)
    return response.status_code, response["Location"], len(queries)


def test_password_resets_stop_at_the_limit_in_silence_and_the_answer_never_changes(cast, monkeypatch):
    answers = set()
    for _ in range(LIMIT + 2):
        answers.add(_reset("bob@practice.example", monkeypatch))
        # Past the five-minute pause between two resets, so only the daily limit holds the next one back.
        AccountLink.objects.update(created_at=timezone.now() - datetime.timedelta(minutes=6))
    answers.add(_reset("nobody@mail.example", monkeypatch))
    assert len(answers) == 1, "the same answer, with the same work, for a login at its limit and for no login"
    assert len(mail.outbox) == LIMIT
    assert len(_refusals("password_reset")) == 2
    assert all(event.actor_label == "anonymous" for event in _refusals("password_reset"))


def test_the_limit_counts_every_kind_of_link_to_one_login(cast, monkeypatch, newcomer):
    signed_in_client(cast.bob).post(reverse("patients:portal_invite", args=[newcomer.pk]))
    user = get_user_model().objects.get(username="nell@mail.example")
    user.set_password("a-chosen-long-passphrase")
    user.save()
    AccountLink.objects.update(created_at=timezone.now() - datetime.timedelta(minutes=6))
    _reset("nell@mail.example", monkeypatch)
    AccountLink.objects.update(created_at=timezone.now() - datetime.timedelta(minutes=6))
    _reset("nell@mail.example", monkeypatch)
    assert len(mail.outbox) == LIMIT


# --- questionnaire links ----------------------------------------------------------------------------------------


def test_questionnaire_messages_stop_at_the_limit_and_resume_a_day_later(cast):
    # Tomorrow at ten in the morning, the practice's time: clear of quiet hours through the rounds below.
    start = timezone.localtime().replace(hour=10, minute=0) + datetime.timedelta(days=1)
    for hour in range(LIMIT + 2):
        due_assessment(cast.alice, "phq9" if hour % 2 else "gad7")
        measures_services.reminders_send_due(now=start + datetime.timedelta(hours=hour, minutes=1))
    assert len(mail.outbox) == LIMIT
    refusals = _refusals("questionnaire")
    assert len(refusals) == 2 and all(event.patient_id == cast.alice.pk for event in refusals)
    measures_services.reminders_send_due(now=start + datetime.timedelta(hours=LIMIT + 24))
    assert len(mail.outbox) == LIMIT + 1


@pytest.mark.parametrize("wrong", ["0", "51"])
def test_a_limit_out_of_bounds_stops_the_server_from_starting(wrong):
    import os
    import subprocess
    import sys

    environment = {**os.environ, "KAPSTONE_DEMO": "1", "KAPSTONE_LINK_MESSAGES_PER_DAY": wrong}
    started = subprocess.run(
        [sys.executable, "-c", "import kapstone.settings"], env=environment, capture_output=True, text=True
    )
    assert started.returncode != 0 and "KAPSTONE_LINK_MESSAGES_PER_DAY must be from 1 to 50" in started.stderr
