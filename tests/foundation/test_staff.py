import re
import smtplib

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
from kapstone.accounts.models import AccountLink
from kapstone.audit.models import AuditEvent
from tests.conftest import make_user

# A staff action asked to confirm, confirmed (accounts.staff_views.STAFF_ACTION_CONFIRM).
CONFIRMED = {"confirm": "yes"}
NEW = {
    "username": "dr.new",
    "first_name": "Nia",
    "last_name": "New",
    "email": "nia@practice.example",
    "role": "prescriber",
    "credentials": "MD",
}
CHOSEN_PASSWORD = "nia-chose-this-long-passphrase"


def _set_up_link(message) -> str:
    return re.search(r"https?://\S+?(/accounts/password/set/[^/\s]+/)", message.body).group(1)


def test_a_new_staff_member_chooses_their_password_from_an_emailed_link_then_enrols_two_factor(cast, client_for):
    response = client_for(cast.admin).post(reverse("accounts:staff"), NEW, follow=True)
    assert "A link to choose their password is on its way to nia@practice.example" in response.content.decode()
    user = get_user_model().objects.get(username="dr.new")
    assert user.role == "prescriber" and AuditEvent.objects.filter(object_type="staff", object_id=user.pk).exists()
    # No password exists that the admin (or anyone but the mailbox's owner) could sign in with and enrol a factor.
    assert not user.has_usable_password()
    assert "waiting for set-up" in response.content.decode()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["nia@practice.example"]
    assert "dr.new" in mail.outbox[0].body and "authenticator app" in mail.outbox[0].body
    link = _set_up_link(mail.outbox[0])
    newcomer = Client()
    response = newcomer.post(link, {"new_password1": CHOSEN_PASSWORD, "new_password2": CHOSEN_PASSWORD}, follow=True)
    assert "you then set up an authenticator app" in response.content.decode()
    response = newcomer.post("/accounts/login/", {"username": "dr.new", "password": CHOSEN_PASSWORD})
    assert response.url == reverse("accounts:two_factor_setup")
    # The link worked once.
    assert Client().get(link).status_code == 400


def test_a_set_up_link_that_cannot_be_sent_is_said_and_can_be_sent_again(cast, client_for, monkeypatch):
    working = services.send_mail

    def unsendable(**kwargs):
        raise smtplib.SMTPServerDisconnected("gone")

    monkeypatch.setattr(services, "send_mail", unsendable)
    admin = client_for(cast.admin)
    response = admin.post(reverse("accounts:staff"), NEW, follow=True)
    page = response.content.decode()
    assert "no set-up link went out" in page and "SMTPServerDisconnected" in page
    user = get_user_model().objects.get(username="dr.new")
    assert not AccountLink.objects.filter(user=user, expires_at__gt=timezone.now()).exists()
    assert f'aria-label="Send set-up link again: {user.display_name}"' in page
    monkeypatch.setattr(services, "send_mail", working)
    response = admin.post(reverse("accounts:staff_action", args=[user.pk, "send_setup_link"]), follow=True)
    assert "A new set-up link is on its way" in response.content.decode()
    assert len(mail.outbox) == 1 and Client().get(_set_up_link(mail.outbox[0])).status_code == 200


def test_sending_the_set_up_link_again_ends_the_earlier_one(cast, client_for):
    admin = client_for(cast.admin)
    admin.post(reverse("accounts:staff"), NEW)
    user = get_user_model().objects.get(username="dr.new")
    admin.post(reverse("accounts:staff_action", args=[user.pk, "send_setup_link"]))
    first, second = (_set_up_link(message) for message in mail.outbox)
    assert Client().get(first).status_code == 400 and Client().get(second).status_code == 200


def test_no_set_up_link_goes_to_a_staff_member_who_has_a_password_or_is_deactivated(cast, client_for):
    admin = client_for(cast.admin)
    response = admin.post(reverse("accounts:staff_action", args=[cast.bob.pk, "send_setup_link"]), follow=True)
    assert "has already chosen a password" in response.content.decode() and mail.outbox == []
    assert f'aria-label="Send set-up link again: {cast.bob.display_name}"' not in response.content.decode()
    admin.post(reverse("accounts:staff"), NEW)
    user = get_user_model().objects.get(username="dr.new")
    link = _set_up_link(mail.outbox[0])
    admin.post(reverse("accounts:staff_action", args=[user.pk, "deactivate"]), CONFIRMED)
    mail.outbox.clear()
    response = admin.post(reverse("accounts:staff_action", args=[user.pk, "send_setup_link"]), follow=True)
    assert "is deactivated" in response.content.decode() and mail.outbox == []
    # The link already sent stops working with the login.
    assert Client().get(link).status_code == 400


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("username", "bob", "That username is taken"),
        ("role", "patient", "Select a valid choice"),
        ("role", "", "Choose the staff member&#x27;s role: it decides what they can see and do."),
        ("email", "nope", "valid email"),
        ("email", "", "“Email” is required: fill it in."),
    ],
)
def test_bad_staff_input_is_explained_and_nothing_is_saved(cast, client_for, field, value, message):
    response = client_for(cast.admin).post(reverse("accounts:staff"), {**NEW, field: value})
    assert response.status_code == 400 and message in response.content.decode()
    assert not get_user_model().objects.filter(username="dr.new").exists()
    assert mail.outbox == []


def test_the_add_form_chooses_no_role_for_the_admin(cast, client_for):
    page = client_for(cast.admin).get(reverse("accounts:staff")).content.decode()
    assert '<option value="" selected>Choose a role</option>' in page
    assert '<button type="submit">Add the staff member</button>' in page


def test_other_roles_cannot_send_set_up_links(cast, client_for):
    admin = client_for(cast.admin)
    admin.post(reverse("accounts:staff"), NEW)
    user = get_user_model().objects.get(username="dr.new")
    mail.outbox.clear()
    for role in (cast.bob, cast.therapist, cast.nurse, cast.researcher, cast.alice_user):
        response = client_for(role).post(reverse("accounts:staff_action", args=[user.pk, "send_setup_link"]))
        assert response.status_code in (403, 404)
    assert mail.outbox == []


def test_resetting_two_factor_removes_the_devices_and_the_password_and_emails_a_set_up_link(cast, client_for):
    response = client_for(cast.admin).post(
        reverse("accounts:staff_action", args=[cast.bob.pk, "reset_two_factor"]), CONFIRMED, follow=True
    )
    assert "a link to choose a new password is on its way" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=cast.bob).exists()
    # Whoever knew the old password cannot sign in and enrol a second factor of their own before bob does.
    bystander = Client()
    response = bystander.post("/accounts/login/", {"username": "bob", "password": "correct-horse-battery"})
    assert response.status_code == 200 and "two_factor" not in response.get("Location", "")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [cast.bob.email]
    bobs_phone = Client()
    link = _set_up_link(mail.outbox[0])
    bobs_phone.post(link, {"new_password1": CHOSEN_PASSWORD, "new_password2": CHOSEN_PASSWORD})
    response = bobs_phone.post("/accounts/login/", {"username": "bob", "password": CHOSEN_PASSWORD})
    assert response.url == reverse("accounts:two_factor_setup")


def test_a_reset_whose_set_up_link_cannot_be_sent_says_so_and_the_link_can_be_sent_again(cast, client_for, monkeypatch):
    working = services.send_mail

    def unsendable(**kwargs):
        raise smtplib.SMTPServerDisconnected("gone")

    monkeypatch.setattr(services, "send_mail", unsendable)
    admin = client_for(cast.admin)
    response = admin.post(
        reverse("accounts:staff_action", args=[cast.bob.pk, "reset_two_factor"]), CONFIRMED, follow=True
    )
    assert "second factors and password are removed, but no set-up link went out" in response.content.decode()
    monkeypatch.setattr(services, "send_mail", working)
    admin.post(reverse("accounts:staff_action", args=[cast.bob.pk, "send_setup_link"]))
    assert len(mail.outbox) == 1 and Client().get(_set_up_link(mail.outbox[0])).status_code == 200


def test_a_reset_is_refused_before_anything_changes_for_a_login_without_an_email_address(cast, client_for):
    cast.bob.email = ""
    cast.bob.save(update_fields=["email"])
    response = client_for(cast.admin).post(
        reverse("accounts:staff_action", args=[cast.bob.pk, "reset_two_factor"]), CONFIRMED, follow=True
    )
    assert "has no email address on file" in response.content.decode()
    cast.bob.refresh_from_db()
    assert cast.bob.has_usable_password() and TOTPDevice.objects.filter(user=cast.bob).exists()


def test_an_admin_cannot_deactivate_their_own_login(cast, client_for):
    response = client_for(cast.admin).post(
        reverse("accounts:staff_action", args=[cast.admin.pk, "deactivate"]), CONFIRMED, follow=True
    )
    assert "cannot deactivate your own login" in response.content.decode()
    cast.admin.refresh_from_db()
    assert cast.admin.is_active


def test_a_deactivated_clinician_cannot_sign_in(cast, client_for):
    client_for(cast.admin).post(reverse("accounts:staff_action", args=[cast.bob.pk, "deactivate"]), CONFIRMED)
    response = Client().post("/accounts/login/", {"username": "bob", "password": "correct-horse-battery"})
    assert response.status_code == 200


def test_patients_are_not_staff_to_manage(cast, client_for):
    url = reverse("accounts:staff_action", args=[cast.alice_user.pk, "deactivate"])
    assert client_for(cast.admin).post(url).status_code == 404


def test_an_unknown_action_is_not_found(cast, client_for):
    url = reverse("accounts:staff_action", args=[cast.bob.pk, "promote"])
    assert client_for(cast.admin).post(url).status_code == 404


def _queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_staff_list_uses_the_same_number_of_queries_however_many_staff(cast, client_for):
    client = client_for(cast.admin)
    url = reverse("accounts:staff")
    _queries_for(client, url)
    before = _queries_for(client, url)
    for index in range(8):
        make_user(f"extra{index}", "nurse", credentials="RN")
    assert _queries_for(client, url) == before


def test_a_staff_action_says_what_it_did_and_the_admin_is_not_offered_deactivating_themselves(cast, client_for):
    admin = client_for(cast.admin)
    page = admin.post(reverse("accounts:staff_action", args=[cast.bob.pk, "deactivate"]), CONFIRMED, follow=True).text
    assert f"{cast.bob.display_name} is deactivated and signed out everywhere." in page
    assert reverse("accounts:staff_action", args=[cast.admin.pk, "deactivate"]) not in page
    assert reverse("accounts:staff_action", args=[cast.admin.pk, "reset_two_factor"]) in page


@pytest.mark.parametrize("action", ["deactivate", "reset_two_factor"])
def test_deactivating_or_resetting_two_factor_asks_first_and_changes_nothing_until_confirmed(cast, client_for, action):
    admin = client_for(cast.admin)
    url = reverse("accounts:staff_action", args=[cast.bob.pk, action])
    response = admin.post(url)
    page = response.content.decode()
    assert response.status_code == 200 and 'name="confirm" value="yes"' in page and f'action="{url}"' in page
    assert reverse("accounts:staff") in page  # the way back, changing nothing
    cast.bob.refresh_from_db()
    assert cast.bob.is_active and TOTPDevice.objects.filter(user=cast.bob).exists()
    assert not AuditEvent.objects.filter(object_type__in=["staff", "staff_two_factor"], object_id=cast.bob.pk)
    assert admin.post(url, CONFIRMED).status_code == 302
    cast.bob.refresh_from_db()
    assert not (cast.bob.is_active and TOTPDevice.objects.filter(user=cast.bob).exists())


def test_unlock_is_offered_only_on_a_locked_logins_row(cast, client_for, settings):
    admin = client_for(cast.admin)
    unlock_bob = reverse("accounts:staff_action", args=[cast.bob.pk, "unlock"])
    page = admin.get(reverse("accounts:staff")).content.decode()
    assert unlock_bob not in page and reverse("accounts:staff_action", args=[cast.bob.pk, "deactivate"]) in page
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client().post("/accounts/login/", {"username": "bob", "password": "wrong"})
    page = admin.get(reverse("accounts:staff")).content.decode()
    assert unlock_bob in page
    assert reverse("accounts:staff_action", args=[cast.nurse.pk, "unlock"]) not in page
