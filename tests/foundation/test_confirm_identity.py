"""Confirming it is you (accounts.identity): changes that hand out access or data need the password typed within
CONFIRM_IDENTITY_MINUTES, at sign-in or again; a session left open cannot make them for whoever finds it."""

import time

import pytest
from django.test import Client
from django.urls import reverse

from kapstone.accounts.identity import CONFIRMED_AT
from kapstone.audit.models import AuditEvent
from kapstone.practice.models import PracticeSetting
from tests.conftest import signed_in_client
from tests.foundation.test_login import current_code

CONFIRM = reverse("accounts:confirm_identity")
PASSWORD = "correct-horse-battery"
STAFF_PAGE = reverse("accounts:staff")


def left_open(user, *, minutes: int = 16) -> Client:
    """A client signed in `minutes` ago and used since, as a session left open on a shared desktop."""
    client = signed_in_client(user)
    session = client.session
    session[CONFIRMED_AT] = time.time() - minutes * 60
    session.save()
    return client


def deactivate(client: Client, cast):
    url = reverse("accounts:staff_action", args=[cast.nurse.pk, "deactivate"])
    return client.post(url, {"confirm": "yes"}, HTTP_REFERER=f"http://testserver{STAFF_PAGE}")


def test_a_fresh_sign_in_is_a_confirmation(cast):
    client = Client()
    client.post(
        reverse("accounts:login"), {"username": "admin", "password": PASSWORD, "otp_token": current_code(cast.admin)}
    )
    response = deactivate(client, cast)
    assert response.status_code == 302 and response.url == STAFF_PAGE
    cast.nurse.refresh_from_db()
    assert not cast.nurse.is_active


def test_a_change_from_a_session_left_open_asks_for_the_password_and_changes_nothing(cast):
    client = left_open(cast.admin)
    assert client.get(STAFF_PAGE).status_code == 200, "reading the list needs no confirmation"
    response = deactivate(client, cast)
    assert response.status_code == 302 and response.url == f"{CONFIRM}?next=%2Faccounts%2Fstaff%2F"
    cast.nurse.refresh_from_db()
    assert cast.nurse.is_active
    page = client.get(response.url).content.decode()
    assert (
        "To change a staff login, confirm it is you: your password was last typed more than 15 minutes ago. You are then brought back to do it."
        in page
        and 'value="/accounts/staff/"' in page
    )


def test_the_password_confirms_and_sends_back_to_the_page(cast):
    client = left_open(cast.admin)
    response = client.post(CONFIRM, {"password": PASSWORD, "next": STAFF_PAGE})
    assert response.status_code == 302 and response.url == STAFF_PAGE
    assert AuditEvent.objects.filter(action="login", detail__contains="identity_confirmed").count() == 1
    assert deactivate(client, cast).url == STAFF_PAGE
    cast.nurse.refresh_from_db()
    assert not cast.nurse.is_active


def test_a_wrong_password_is_refused_audited_and_counts_towards_the_lockout(cast, settings):
    client = left_open(cast.admin)
    response = client.post(CONFIRM, {"password": "guess-one", "next": STAFF_PAGE})
    assert response.status_code == 400 and "That is not your password." in response.content.decode()
    assert AuditEvent.objects.filter(object_type="sign_in_failed").count() == 1
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(CONFIRM, {"password": "guess-again", "next": STAFF_PAGE})
    assert response.status_code == 429
    # Locked out and signed out: the session can do nothing more.
    assert client.get(STAFF_PAGE).status_code == 302


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/", ""])
def test_after_confirming_only_a_page_of_this_site_is_followed(cast, next_url):
    response = left_open(cast.admin).post(CONFIRM, {"password": PASSWORD, "next": next_url})
    assert response.status_code == 302 and response.url == reverse("home:home")


def test_an_empty_password_is_asked_for_again(cast):
    response = left_open(cast.admin).post(CONFIRM, {"password": ""})
    assert response.status_code == 400 and "“Your password” is required: fill it in." in response.content.decode()


def test_managing_second_factors_asks_before_the_page_opens(cast):
    client = left_open(cast.bob)
    response = client.get(reverse("accounts:two_factor"))
    assert response.status_code == 302 and response.url == f"{CONFIRM}?next=%2Faccounts%2Ftwo-factor%2F"
    assert client.post(reverse("accounts:passkey_enrol_begin")).url.startswith(CONFIRM)


def test_a_practice_setting_change_from_a_session_left_open_is_not_saved(cast):
    client = left_open(cast.bob)
    url = reverse("practice:settings")
    assert client.get(url).status_code == 200
    response = client.post(
        url, {"key": "integration.outer_hours", "action": "change", "value": "60", "reason": "Our protocol"}
    )
    assert response.url.startswith(CONFIRM)
    assert not PracticeSetting.objects.exists()


def test_a_research_export_from_a_session_left_open_asks_first(cast):
    client = left_open(cast.researcher)
    url = reverse("outcomes:research_export")
    assert client.get(url).status_code == 200
    response = client.post(url)
    assert response.status_code == 302 and response.url.startswith(CONFIRM)
    assert not AuditEvent.objects.filter(action="export").exists()


def test_how_long_a_confirmation_lasts_is_a_setting(cast, settings):
    settings.CONFIRM_IDENTITY_MINUTES = 30
    assert deactivate(left_open(cast.admin, minutes=16), cast).url == STAFF_PAGE


def test_patients_have_nothing_to_confirm(cast):
    assert signed_in_client(cast.alice_user).get(CONFIRM).status_code == 403
