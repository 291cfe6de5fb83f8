"""Portal invitations, passwords (set by link, changed, reset), unlocking, ending sessions, and the audit of
failed sign-ins and refused access."""

import datetime
import re
import smtplib

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kapstone.accounts import services
from kapstone.accounts.models import AccountLink
from kapstone.audit.models import AuditEvent
from tests.conftest import make_patient, signed_in_client
from tests.foundation.test_login import current_code

# A staff action asked to confirm, confirmed (accounts.staff_views.STAFF_ACTION_CONFIRM).
CONFIRMED = {"confirm": "yes"}

LOGIN = "/accounts/login/"
NEW_PASSWORD = "a-brand-new-long-passphrase"


def link_in(message) -> str:
    return re.search(r"https?://\S+/accounts/password/set/(\S+)/", message.body).group(0)


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


@pytest.fixture
def newcomer(cast):
    """A registered patient with no portal login, on bob's care team."""
    return make_patient("Nell", "Newcomer", team=[cast.bob])


# --- portal invitation ------------------------------------------------------------------------------------


def test_staff_invite_a_patient_who_sets_a_password_and_signs_in(cast, client_for, newcomer):
    response = client_for(cast.bob).post(reverse("patients:portal_invite", args=[newcomer.pk]))
    assert response.status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.user.username == "nell@mail.example" and not newcomer.user.has_usable_password()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["nell@mail.example"]
    link = path_of(link_in(mail.outbox[0]))

    patient = Client()
    assert "nell@mail.example" in patient.get(link).content.decode()
    response = patient.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302 and response.url == reverse("accounts:login")
    response = patient.post(LOGIN, {"username": "nell@mail.example", "password": NEW_PASSWORD})
    assert response.url == reverse("portal:home")
    assert AuditEvent.objects.filter(object_type="portal_invitation", patient_id=newcomer.pk).exists()


def test_the_patient_page_offers_the_invitation(cast, client_for, newcomer):
    page = client_for(cast.bob).get(reverse("patients:detail", args=[newcomer.pk])).content.decode()
    assert reverse("patients:portal_invite", args=[newcomer.pk]) in page and "Invite to the portal" in page


def test_a_clinician_outside_the_care_team_cannot_invite(cast, client_for, newcomer):
    response = client_for(cast.charlie).post(reverse("patients:portal_invite", args=[newcomer.pk]))
    assert response.status_code == 404
    newcomer.refresh_from_db()
    assert newcomer.user is None and mail.outbox == []


def test_a_patient_without_an_email_address_is_not_invited(cast, client_for, newcomer):
    newcomer.email = ""
    newcomer.save()
    response = client_for(cast.bob).post(reverse("patients:portal_invite", args=[newcomer.pk]), follow=True)
    assert "email address to their record first" in response.content.decode()
    newcomer.refresh_from_db()
    assert newcomer.user is None


def test_a_patient_with_a_portal_login_is_not_invited_again(cast, client_for):
    response = client_for(cast.bob).post(reverse("patients:portal_invite", args=[cast.alice.pk]), follow=True)
    assert "already has a portal login" in response.content.decode() and mail.outbox == []


def test_a_second_invitation_ends_the_first_link(cast, client_for, newcomer):
    client = client_for(cast.bob)
    client.post(reverse("patients:portal_invite", args=[newcomer.pk]))
    client.post(reverse("patients:portal_invite", args=[newcomer.pk]))
    first, second = (path_of(link_in(message)) for message in mail.outbox)
    assert "has expired" in Client().get(first).content.decode()
    assert Client().get(second).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_the_invitation_leaves_after_its_login_and_link_are_committed(cast, client_for, newcomer, monkeypatch):
    """A link followed the moment the message arrives must find its link already written."""
    seen = []
    working = services.send_mail

    def checking(**kwargs):
        seen.append((connection.in_atomic_block, AccountLink.objects.filter(used_at__isnull=True).count()))
        working(**kwargs)

    monkeypatch.setattr(services, "send_mail", checking)
    client_for(cast.bob).post(reverse("patients:portal_invite", args=[newcomer.pk]))
    assert seen == [(False, 1)] and len(mail.outbox) == 1
    assert Client().get(path_of(link_in(mail.outbox[0]))).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_two_invitations_of_one_patient_at_once_make_one_login_and_refuse_the_other_with_a_message(cast, newcomer):
    if connection.vendor != "postgresql":
        pytest.skip("two writers at once are exercised on PostgreSQL (SQLite runs one writer at a time)")
    import threading

    from django.db import connections

    from kapstone.patients.models import Patient

    barrier = threading.Barrier(2)
    outcomes = []

    def invite():
        try:
            patient = Patient.objects.get(pk=newcomer.pk)
            barrier.wait()
            services.portal_invite(actor=cast.bob, patient=patient)
            outcomes.append("done")
        except services.AccountError as refusal:
            outcomes.append(str(refusal))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=invite) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The second is refused with a message whichever way the two interleave: by the check, if the first committed
    # before it looked, else by the username's constraint.
    refusals = [outcome for outcome in outcomes if outcome != "done"]
    assert outcomes.count("done") == 1 and len(refusals) == 1
    assert "reload the patient's page" in refusals[0] or "is already the username of another login" in refusals[0]
    assert get_user_model().objects.filter(username=newcomer.email.lower()).count() == 1 and len(mail.outbox) == 1


def _unsendable(**kwargs):
    raise smtplib.SMTPServerDisconnected("gone")


def test_an_invitation_that_cannot_be_sent_leaves_no_usable_link_and_can_be_sent_again(
    cast, client_for, newcomer, monkeypatch
):
    working = services.send_mail
    monkeypatch.setattr(services, "send_mail", _unsendable)
    client = client_for(cast.bob)
    response = client.post(reverse("patients:portal_invite", args=[newcomer.pk]), follow=True)
    assert "The email could not be sent (SMTPServerDisconnected); try again later." in response.content.decode()
    newcomer.refresh_from_db()
    assert not newcomer.user.has_usable_password()
    assert not AccountLink.objects.filter(user=newcomer.user, expires_at__gt=timezone.now()).exists()
    assert AuditEvent.objects.filter(object_type="account_link", object_id=str(newcomer.user.pk)).exists()

    monkeypatch.setattr(services, "send_mail", working)
    client.post(reverse("patients:portal_invite", args=[newcomer.pk]))
    assert len(mail.outbox) == 1 and Client().get(path_of(link_in(mail.outbox[0]))).status_code == 200


def test_an_invitation_sent_again_goes_to_the_address_now_on_the_record(cast, client_for, newcomer):
    client = client_for(cast.bob)
    client.post(reverse("patients:portal_invite", args=[newcomer.pk]))
    newcomer.email = "nell.corrected@mail.example"
    newcomer.save()
    client.post(reverse("patients:portal_invite", args=[newcomer.pk]))
    assert [message.to for message in mail.outbox] == [["nell@mail.example"], ["nell.corrected@mail.example"]]


# --- links: reused, expired, altered ----------------------------------------------------------------------


def _reset_link(user) -> str:
    token = services.account_link_create(
        user=user, purpose=AccountLink.Purpose.PASSWORD_RESET, lifetime=datetime.timedelta(minutes=30)
    )
    return reverse("accounts:set_password", args=[token])


def test_a_used_link_says_so(cast):
    link = _reset_link(cast.alice_user)
    Client().post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    response = Client().post(
        link, {"new_password1": "another-long-passphrase", "new_password2": "another-long-passphrase"}
    )
    assert response.status_code == 400 and "already been used" in response.content.decode()
    cast.alice_user.refresh_from_db()
    assert cast.alice_user.check_password(NEW_PASSWORD)


def test_an_expired_link_says_so(cast):
    link = _reset_link(cast.alice_user)
    AccountLink.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    response = Client().get(link)
    assert response.status_code == 400 and "has expired" in response.content.decode()


def test_an_altered_link_says_so(cast):
    link = _reset_link(cast.alice_user)
    response = Client().get(link[:-3] + "xyz/")
    assert response.status_code == 400 and "not valid" in response.content.decode()


def test_a_weak_password_is_refused_and_the_link_kept(cast):
    link = _reset_link(cast.alice_user)
    response = Client().post(link, {"new_password1": "short", "new_password2": "short"})
    assert response.status_code == 400 and "too short" in response.content.decode()
    assert AccountLink.objects.get().used_at is None


# --- password reset by email ------------------------------------------------------------------------------


def test_a_patient_resets_their_password_by_email(cast):
    cast.alice_user.email = "alice@mail.example"
    cast.alice_user.save()
    response = Client().post(reverse("accounts:password_reset"), {"identifier": "alice@mail.example"})
    assert response.status_code == 302 and len(mail.outbox) == 1
    link = path_of(link_in(mail.outbox[0]))
    Client().post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    response = Client().post(LOGIN, {"username": "alice", "password": NEW_PASSWORD})
    assert response.url == reverse("portal:home")


def test_staff_reset_their_password_then_still_need_their_second_factor(cast):
    cast.bob.email = "bob@practice.example"
    cast.bob.save()
    Client().post(reverse("accounts:password_reset"), {"identifier": "bob"})
    assert "second factor" in mail.outbox[0].body
    Client().post(path_of(link_in(mail.outbox[0])), {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    client = Client()
    response = client.post(LOGIN, {"username": "bob", "password": NEW_PASSWORD})
    assert response.url == reverse("accounts:sign_in_second_step")
    assert client.get(reverse("patients:list")).url.startswith(LOGIN), "the new password alone signs nobody in"
    response = client.post(response.url, {"otp_token": current_code(cast.bob)})
    assert response.url == reverse("home:home")


@pytest.mark.django_db(transaction=True)
def test_a_reset_link_leaves_after_it_is_committed(cast, monkeypatch):
    cast.alice_user.email = "alice@mail.example"
    cast.alice_user.save()
    seen = []
    working = services.send_mail

    def checking(**kwargs):
        seen.append((connection.in_atomic_block, AccountLink.objects.filter(user=cast.alice_user).count()))
        working(**kwargs)

    monkeypatch.setattr(services, "send_mail", checking)
    Client().post(reverse("accounts:password_reset"), {"identifier": "alice"})
    assert seen == [(False, 1)] and len(mail.outbox) == 1


def test_a_reset_that_cannot_be_sent_answers_as_any_other_and_leaves_no_usable_link(cast, monkeypatch, caplog):
    cast.alice_user.email = "alice@mail.example"
    cast.alice_user.save()
    monkeypatch.setattr(services, "send_mail", _unsendable)
    unsent = Client().post(reverse("accounts:password_reset"), {"identifier": "alice"}, follow=True)
    no_one = Client().post(reverse("accounts:password_reset"), {"identifier": "nobody-here"}, follow=True)
    # The visitor cannot tell a login whose message failed from no login at all; whoever runs the mail can.
    assert unsent.redirect_chain == no_one.redirect_chain == [(reverse("accounts:login"), 302)]
    assert [str(m) for m in unsent.context["messages"]] == [str(m) for m in no_one.context["messages"]]
    assert "could not be sent" not in unsent.content.decode()
    assert any("was not sent" in record.getMessage() for record in caplog.records)
    assert not AccountLink.objects.filter(user=cast.alice_user, expires_at__gt=timezone.now()).exists()


def test_repeated_reset_requests_send_one_message_in_five_minutes_and_the_first_link_keeps_working(cast):
    cast.alice_user.email = "alice@mail.example"
    cast.alice_user.save()
    for _ in range(3):
        response = Client().post(reverse("accounts:password_reset"), {"identifier": "alice"})
        assert response.status_code == 302  # the same answer each time: nothing says a message was held back
    assert len(mail.outbox) == 1
    AccountLink.objects.filter(user=cast.alice_user).update(
        created_at=timezone.now() - services.RESET_MESSAGE_INTERVAL - datetime.timedelta(seconds=1)
    )
    Client().post(reverse("accounts:password_reset"), {"identifier": "alice"})
    assert len(mail.outbox) == 2


def test_a_reset_whose_message_failed_may_be_asked_for_again_at_once(cast, monkeypatch):
    cast.alice_user.email = "alice@mail.example"
    cast.alice_user.save()
    working = services.send_mail
    monkeypatch.setattr(services, "send_mail", _unsendable)
    Client().post(reverse("accounts:password_reset"), {"identifier": "alice"})
    monkeypatch.setattr(services, "send_mail", working)
    Client().post(reverse("accounts:password_reset"), {"identifier": "alice"})
    assert len(mail.outbox) == 1


def test_a_reset_for_an_unknown_login_looks_the_same_and_sends_nothing(db):
    response = Client().post(reverse("accounts:password_reset"), {"identifier": "nobody@nowhere.example"})
    assert response.status_code == 302 and mail.outbox == []


def test_a_blank_reset_request_is_explained(db):
    response = Client().post(reverse("accounts:password_reset"), {"identifier": ""})
    assert (
        response.status_code == 400
        and "“Username or email address” is required: fill it in." in response.content.decode()
    )


# --- password change and ending sessions ------------------------------------------------------------------


def test_changing_a_password_keeps_this_session_and_ends_the_others(cast):
    here, elsewhere = signed_in_client(cast.alice_user), signed_in_client(cast.alice_user)
    response = here.post(
        reverse("accounts:password_change"),
        {"old_password": "correct-horse-battery", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert here.get(reverse("portal:home")).status_code == 200
    assert elsewhere.get(reverse("portal:home")).url.startswith(reverse("accounts:login"))


def test_a_wrong_old_password_changes_nothing(cast):
    response = signed_in_client(cast.bob).post(
        reverse("accounts:password_change"),
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 400 and "old password was entered incorrectly" in response.content.decode()
    cast.bob.refresh_from_db()
    assert cast.bob.check_password("correct-horse-battery")


def test_resetting_two_factor_signs_the_user_out_everywhere(cast, client_for):
    bobs_tablet = signed_in_client(cast.bob)
    client_for(cast.admin).post(reverse("accounts:staff_action", args=[cast.bob.pk, "reset_two_factor"]), CONFIRMED)
    assert bobs_tablet.get(reverse("home:home")).url.startswith(reverse("accounts:login"))


def test_deactivating_then_reactivating_does_not_revive_old_sessions(cast, client_for):
    bobs_tablet = signed_in_client(cast.bob)
    admin = client_for(cast.admin)
    admin.post(reverse("accounts:staff_action", args=[cast.bob.pk, "deactivate"]), CONFIRMED)
    admin.post(reverse("accounts:staff_action", args=[cast.bob.pk, "reactivate"]))
    assert bobs_tablet.get(reverse("home:home")).url.startswith(reverse("accounts:login"))


# --- lockouts, failed sign-ins and refused access ---------------------------------------------------------


def _lock_out(username: str) -> None:
    for _ in range(5):
        Client().post(LOGIN, {"username": username, "password": "guess-the-password"})


def test_failed_sign_ins_are_audited_without_the_password(cast):
    Client().post(LOGIN, {"username": "alice", "password": "guess-the-password"})
    event = AuditEvent.objects.get(object_type="sign_in_failed")
    assert event.detail_data == {"username": "alice"} and "guess-the-password" not in event.detail
    assert event.object_id == str(cast.alice_user.pk)


def test_an_admin_unlocks_a_locked_patient_from_the_security_screen(cast, client_for):
    _lock_out("alice")
    assert (
        "Account locked"
        in Client().post(LOGIN, {"username": "alice", "password": "correct-horse-battery"}).content.decode()
    )
    admin = client_for(cast.admin)
    page = admin.get(reverse("accounts:security")).content.decode()
    assert "Unlock alice" in page and "Failed sign-in" in page
    response = admin.post(reverse("accounts:unlock"), {"username": "alice"})
    assert response.status_code == 302 and not AccessAttempt.objects.filter(username="alice").exists()
    response = Client().post(LOGIN, {"username": "alice", "password": "correct-horse-battery"})
    assert response.url == reverse("portal:home")


def test_unlocking_a_login_that_is_not_locked_is_explained(cast, client_for):
    response = client_for(cast.admin).post(reverse("accounts:unlock"), {"username": "alice"}, follow=True)
    assert "No sign-in failures are recorded" in response.content.decode()


def test_only_admins_see_the_security_screen(cast, client_for):
    assert client_for(cast.bob).get(reverse("accounts:security")).status_code == 403
    assert client_for(cast.admin).post(reverse("accounts:unlock"), {}).status_code == 302


def test_opening_another_teams_patient_is_audited_and_shown_to_admins(cast, client_for):
    url = reverse("patients:detail", args=[cast.alice.pk])
    assert client_for(cast.charlie).get(url).status_code == 404
    event = AuditEvent.objects.get(object_type="access_denied")
    assert event.actor_label == "charlie" and event.detail_data["path"] == url
    page = client_for(cast.admin).get(reverse("accounts:security")).content.decode()
    assert "Refused or not found" in page and url in page


def test_a_new_login_is_a_patient_not_staff(cast, client_for, newcomer):
    client_for(cast.bob).post(reverse("patients:portal_invite", args=[newcomer.pk]))
    assert get_user_model().objects.get(username="nell@mail.example").is_patient
