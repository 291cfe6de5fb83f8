import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from kapstone.patients.models import Patient

PRODUCTION_ENV = {
    "PATH": os.environ["PATH"],
    # The child imports the Kapstone under test (a worktree's src), not whichever one is installed.
    "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    "SECRET_KEY": "x" * 64 + "-production-secret-for-the-check",
    "KAPSTONE_RESEARCH_ID_KEY": "r" * 40,
    "KAPSTONE_NOTES_KEY": "ZGVtby1vbmx5LW5vdGVzLWtleS0zMmJ5dGVzLWxvbmc=",
    "ALLOWED_HOSTS": "kap.example",
    "KAPSTONE_WEBAUTHN_RP_ID": "kap.example",
    "KAPSTONE_WEBAUTHN_RP_NAME": "Example Practice",
    "KAPSTONE_SITE_URL": "https://kap.example",
    "DATABASE_URL": "sqlite:////tmp/kapstone-deploy-check.sqlite3",
}


def kapstone(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "kapstone", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_the_deploy_check_passes_in_a_production_environment():
    result = kapstone("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_missing_secret_key_stops_start_up_with_a_clear_message():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = kapstone("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr and "Traceback" not in result.stderr


def test_a_short_research_key_stops_start_up():
    result = kapstone("check", env={**PRODUCTION_ENV, "KAPSTONE_RESEARCH_ID_KEY": "short-key"})
    assert result.returncode != 0 and "KAPSTONE_RESEARCH_ID_KEY must be at least 32 characters" in result.stderr


def test_a_bad_boolean_stops_start_up():
    result = kapstone("check", env={**PRODUCTION_ENV, "DEBUG": "maybe"})
    assert result.returncode != 0 and "DEBUG must be a boolean" in result.stderr and "Traceback" not in result.stderr


def test_a_confirmation_that_lasts_no_time_stops_start_up():
    result = kapstone("check", env={**PRODUCTION_ENV, "KAPSTONE_CONFIRM_IDENTITY_MINUTES": "0"})
    assert result.returncode != 0 and "KAPSTONE_CONFIRM_IDENTITY_MINUTES must be at least 1, not 0" in result.stderr


def test_production_hashes_passwords_with_argon2():
    result = kapstone(
        "shell", "-c", "from django.conf import settings; print(settings.PASSWORD_HASHERS[0])", env=PRODUCTION_ENV
    )
    assert result.stdout.strip().splitlines()[-1] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_idle_sessions_time_out():
    assert settings.SESSION_SAVE_EVERY_REQUEST and settings.SESSION_COOKIE_AGE <= 30 * 60


def test_healthz_reports_the_database(db):
    response = Client().get("/healthz")
    assert response.json() == {"status": "ok", "database": "ok"}


def test_pages_carry_the_security_headers(db):
    response = Client().get("/accounts/login/")
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


def test_seed_demo_builds_a_practice_and_can_run_again(db, capsys):
    call_command("seed_demo", "--patients", "12")
    assert Patient.objects.count() == 12
    out = capsys.readouterr().out
    assert "dr.okafor" in out and "otpauth://" in out and "patient1" in out
    # The medical director answers for the clinical settings and is printed as such.
    assert "Prescriber, medical director" in next(line for line in out.splitlines() if "dr.okafor" in line)
    directors = get_user_model().objects.filter(is_medical_director=True)
    assert [(user.username, user.role) for user in directors] == [("dr.okafor", "prescriber")]
    call_command("seed_demo", "--patients", "12")
    assert Patient.objects.count() == 12


def test_seed_demo_refuses_a_silly_size(db):
    with pytest.raises(CommandError) as failure:
        call_command("seed_demo", "--patients", "0")
    assert failure.value.returncode == 2


def test_staff_home_lists_my_patients(cast, client_for):
    page = client_for(cast.bob).get("/home/").content.decode()
    assert "Alice Abernathy" in page and "Dana" not in page


def test_staff_home_marks_a_due_questionnaire_to_complete_with_the_patient(cast, client_for):
    from django.urls import reverse

    from tests.measures.factories import due_assessment

    ebi = due_assessment(cast.alice, "ebi", due_in_days=-1)
    due_assessment(cast.alice, "phq9", due_in_days=-1)
    page = client_for(cast.bob).get("/home/").content.decode()
    fill_in = reverse("measures:record", args=[cast.alice.pk, ebi.pk])
    assert page.count("to complete with the patient") == 1 and fill_in in page


def test_researchers_see_no_identifiable_data_on_their_home(cast, client_for):
    page = client_for(cast.researcher).get("/home/").content.decode()
    assert "Abernathy" not in page and "Delacroix" not in page


def test_a_researchers_home_says_where_their_work_is(cast, client_for):
    page = client_for(cast.researcher).get("/home/").content.decode()
    assert f'<a href="{reverse("outcomes:report")}">The outcomes report</a>' in page
    assert f'<a href="{reverse("outcomes:research_export")}">The research export</a>' in page


def test_a_patient_sees_only_their_own_portal(cast, client_for):
    page = client_for(cast.alice_user).get("/portal/").content.decode()
    assert "Hello, Alice" in page and "Dana" not in page
