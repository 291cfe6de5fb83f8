"""A clinical-case audit of the enrolment gate, the practice settings that screening reads, and bad input to the staff
intake and the patient's pre-intake: clear messages, never a server error or a partial write."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from kapstone.practice.models import PracticeSetting
from kapstone.practice.registry import SettingRefused
from kapstone.practice.services import practice_setting_change
from kapstone.practice.settings_store import practice_value_set
from kapstone.program import services as program
from kapstone.screening import services
from kapstone.screening.engine import load_rule_set
from kapstone.screening.gate import enrolment_blockers, gate_settings
from kapstone.screening.models import IntakeVersion, ScreeningResult
from tests.conftest import signed_in_client
from tests.screening import helpers
from tests.screening.test_views import pre_intake_post
from tests.screening.test_views_intake import intake_post

pytestmark = pytest.mark.django_db


def birthday_18_years_before(day: datetime.date) -> datetime.date:
    return day.replace(year=day.year - 18)


# ---- The gate: the record's date of birth on the day ------------------------------------------------------------


@pytest.mark.parametrize(("days_to_birthday", "blocked"), [(0, False), (1, True)])
def test_the_gate_opens_on_the_18th_birthday_on_the_record_and_not_the_day_before(cast, days_to_birthday, blocked):
    helpers.ready_for_enrolment(cast)  # the intake said 40
    today = timezone.localdate()
    if (today.month, today.day) == (2, 29):
        pytest.skip("no 18th birthday falls on 29 February when it is today")
    birthday = today + datetime.timedelta(days=days_to_birthday)
    cast.alice.date_of_birth = birthday_18_years_before(birthday)
    cast.alice.save()
    blockers = enrolment_blockers(patient=cast.alice)
    assert any("the patient is 17 on the record's date of birth" in blocker for blocker in blockers) is blocked
    assert (blockers == []) is not blocked


def test_a_not_eligible_screening_is_never_overridden_and_enrolment_refuses(cast):
    _, result = helpers.screen(cast, helpers.not_eligible_intake())
    helpers.consult(cast)
    helpers.sign_consent(cast)
    with pytest.raises(services.ScreeningRefused, match="cannot be overridden"):
        services.override_record(actor=cast.bob, result=result, justification="x" * 200)
    group = program.group_create(
        actor=cast.bob,
        name="Thursday group",
        template_id="journey-clinical-style",
        start_date="2030-01-03",
        facilitators=[cast.bob, cast.therapist],
    )
    with pytest.raises(program.EnrolmentRefused, match="not eligible"):
        program.enrol(actor=cast.bob, group=group, patient=cast.alice)


# ---- Practice settings: the page's service refuses a value past a cited bound, and reads clamp old ones ----------

BOUNDED = sorted(
    (name, setting.hard_bounds) for name, setting in load_rule_set().settings.items() if setting.hard_bounds is not None
)


@pytest.mark.parametrize(("name", "bounds"), BOUNDED)
def test_the_practice_settings_service_refuses_a_screening_value_past_its_hard_bound(cast, name, bounds):
    past = bounds["max"] + 1 if "max" in bounds else bounds["min"] - 1
    with pytest.raises(SettingRefused, match="cannot"):
        practice_setting_change(actor=cast.bob, key=f"screening.{name}", raw_value=str(past), reason="Local policy")
    assert not PracticeSetting.objects.exists()


@pytest.mark.parametrize(("name", "bounds"), BOUNDED)
def test_a_stored_value_past_a_hard_bound_is_read_at_the_bound(cast, name, bounds):
    past = bounds["max"] + 1 if "max" in bounds else bounds["min"] - 1
    practice_value_set(actor=cast.admin, key=f"screening.{name}", value=past, reason="written by hand")
    assert gate_settings()[name] == bounds.get("max", bounds.get("min"))


def test_the_practice_settings_page_refuses_a_value_past_a_hard_bound_without_saving(cast):
    response = signed_in_client(cast.bob).post(
        reverse("practice:settings"),
        {"key": "screening.benzo_dze_threshold_mg", "action": "change", "value": "20", "reason": "We tolerate more"},
    )
    assert response.status_code == 400
    assert "cannot exceed 8" in response.text
    assert not PracticeSetting.objects.exists()


# ---- The staff intake: bad input -------------------------------------------------------------------------------


def intake_url(cast):
    return reverse("screening:intake", kwargs={"patient_id": cast.alice.pk})


@pytest.mark.parametrize(
    ("rows", "fields", "message"),
    [
        ({}, {"assessment_date": "2026-02-30"}, "Enter a valid date."),
        ({}, {"assessment_date": "2999-01-01"}, "is after today"),
        ({}, {"medical__mi_or_unstable_angina_date": "2026-13-01"}, "Enter a valid date."),
        ({"medications": [{"name": "lorazepam", "dose_mg_per_day": "-2"}]}, {}, "greater than or equal to 0"),
        ({"medications": [{"name": "x" * 5000}]}, {}, "at most 200 characters"),
        ({}, {"vitals__systolic": "1200"}, "less than or equal to"),
        ({}, {"current_episode__duration_months": "abc"}, "Enter a number."),
        (
            {"trials": [{"drug": "sertraline", "weeks": "-4", "adequate_dose": "on", "response": "no_response"}]},
            {},
            "0",
        ),
    ],
)
def test_bad_staff_intake_input_is_sent_back_with_a_message_and_nothing_is_saved(cast, rows, fields, message):
    response = signed_in_client(cast.bob).post(intake_url(cast), intake_post(rows, **fields))
    assert response.status_code == 400
    assert message in response.text
    assert not IntakeVersion.objects.exists() and not ScreeningResult.objects.exists()


def test_an_empty_staff_intake_post_is_sent_back_not_a_server_error(cast):
    response = signed_in_client(cast.bob).post(intake_url(cast), {})
    assert response.status_code == 400
    assert not IntakeVersion.objects.exists()


# ---- The patient's pre-intake: bad input -----------------------------------------------------------------------

PRE_INTAKE_URL = reverse("screening:portal_pre_intake")


@pytest.mark.parametrize(
    "changes",
    [
        {"medications": "sertraline 100 mg\n" * 500},
        {"substance_use": "x" * 5000},
        {"medicines-0-weeks": "-3"},
        {"therapies-0-sessions": "1e9"},
        {"indications": ["not-an-indication"]},
        {"medicines-TOTAL_FORMS": "oops"},
    ],
)
def test_bad_pre_intake_input_is_sent_back_and_nothing_is_saved(cast, changes):
    response = signed_in_client(cast.alice_user).post(PRE_INTAKE_URL, pre_intake_post(**changes))
    assert response.status_code == 400
    assert not IntakeVersion.objects.exists()


@pytest.mark.parametrize(
    ("line", "entry"),
    [
        ("lorazepam 1 mg twice a day", {"name": "lorazepam 1 mg twice a day"}),
        ("clonazepam 0.5 mg as needed", {"name": "clonazepam 0.5 mg as needed"}),
        ("Xanax 0,5 mg", {"name": "Xanax 0,5 mg"}),
        ("levothyroxine 75 mcg", {"name": "levothyroxine 75 mcg"}),
        ("sertraline 100 mg a day", {"name": "sertraline", "dose_mg_per_day": 100}),
        ("quetiapine 25mg at night", {"name": "quetiapine", "dose_mg_per_day": 25}),
    ],
)
def test_a_patients_medicine_line_gives_a_daily_dose_only_when_it_says_one(cast, line, entry):
    response = signed_in_client(cast.alice_user).post(PRE_INTAKE_URL, pre_intake_post(medications=line))
    assert response.status_code == 302
    assert IntakeVersion.objects.get(patient=cast.alice).data["medications"] == [entry]
