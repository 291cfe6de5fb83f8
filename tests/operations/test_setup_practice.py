import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from kapstone.patients.models import Patient

FIRST_ADMIN = ["--username", "admin.first", "--email", "first@practice.example", "--first-name", "Ada"]


def test_the_first_admin_is_created_and_enrols_two_factor_at_first_sign_in(db, capsys):
    call_command("setup_practice", *FIRST_ADMIN, "--last-name", "First", "--password", "a-long-first-passphrase")
    admin = get_user_model().objects.get()
    assert admin.role == "admin" and Patient.objects.count() == 0
    assert "admin.first" in capsys.readouterr().out
    response = Client().post(
        reverse("accounts:login"), {"username": "admin.first", "password": "a-long-first-passphrase"}
    )
    assert response.url == reverse("accounts:two_factor_setup")


def test_without_a_password_one_is_generated_and_printed(db, capsys):
    call_command("setup_practice", *FIRST_ADMIN, "--last-name", "First")
    password = capsys.readouterr().out.split("Temporary password: ")[1].split()[0]
    assert get_user_model().objects.get().check_password(password)


def test_it_runs_only_on_an_empty_database(cast):
    with pytest.raises(CommandError, match="only runs once"):
        call_command("setup_practice", *FIRST_ADMIN, "--last-name", "First")


@pytest.mark.parametrize(
    "extra,message",
    [
        ([], "--last-name is required"),
        (["--last-name", "First", "--password", "short"], "too short"),
    ],
)
def test_bad_input_is_named_and_nothing_is_created(db, extra, message):
    with pytest.raises(CommandError, match=message):
        call_command("setup_practice", *FIRST_ADMIN, *extra)
    assert not get_user_model().objects.exists()
