import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

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
    "temporary_password": "a-long-temporary-passphrase",
}


def test_an_admin_adds_a_staff_member_who_must_enrol_two_factor_first(cast, client_for):
    response = client_for(cast.admin).post(reverse("accounts:staff"), NEW)
    assert response.status_code == 302
    user = get_user_model().objects.get(username="dr.new")
    assert user.role == "prescriber" and AuditEvent.objects.filter(object_type="staff", object_id=user.pk).exists()
    client = Client()
    response = client.post("/accounts/login/", {"username": "dr.new", "password": NEW["temporary_password"]})
    assert response.url == reverse("accounts:two_factor_setup")


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("username", "bob", "That username is taken"),
        ("role", "patient", "Select a valid choice"),
        ("temporary_password", "short", "too short"),
        ("email", "nope", "valid email"),
    ],
)
def test_bad_staff_input_is_explained_and_nothing_is_saved(cast, client_for, field, value, message):
    response = client_for(cast.admin).post(reverse("accounts:staff"), {**NEW, field: value})
    assert response.status_code == 400 and message in response.content.decode()
    assert not get_user_model().objects.filter(username="dr.new").exists()


def test_resetting_two_factor_removes_the_devices(cast, client_for):
    client_for(cast.admin).post(reverse("accounts:staff_action", args=[cast.bob.pk, "reset_two_factor"]), CONFIRMED)
    assert not TOTPDevice.objects.filter(user=cast.bob).exists()


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
