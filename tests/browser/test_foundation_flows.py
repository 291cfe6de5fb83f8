import base64
import re

import pytest
from django.core import mail
from django_otp.oath import totp
from playwright.sync_api import expect

from kapstone.patients.models import Diagnosis, Patient
from tests.browser.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_sign_in_with_two_factor_and_register_a_patient(page, cast):
    sign_in(page, cast.bob)
    page.get_by_role("heading", name="Good day").wait_for()
    page.get_by_role("link", name="Patients", exact=True).click()
    page.get_by_role("link", name="Register a patient").click()
    page.get_by_label("Given name").fill("Robin")
    page.get_by_label("Family name").fill("Quiroga")
    page.get_by_label("Date of birth").fill("1979-03-02")
    page.get_by_role("button", name="Register the patient").click()
    page.get_by_text("is registered as KP-").wait_for()
    assert Patient.objects.filter(family_name="Quiroga").exists()
    expect(page.get_by_role("heading", name="Robin Quiroga")).to_be_visible()


def test_a_wrong_code_keeps_staff_out(page, cast):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_label("Authenticator code").fill("000000")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("not right or has expired")).to_be_visible()


def test_a_clinician_outside_the_care_team_is_told_the_record_does_not_exist(page, cast):
    sign_in(page, cast.charlie)
    page.get_by_role("heading", name="Good day").wait_for()
    response = page.goto(f"/patients/{cast.alice.pk}/")
    assert response.status == 404
    assert "Abernathy" not in page.content()


def test_a_patient_reaches_their_portal_on_a_phone(browser, live_server, cast):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    sign_in(page, cast.alice_user, with_code=False)
    page.get_by_role("heading", name="Hello, Alice").wait_for()
    expect(page.get_by_role("link", name="call 988", exact=True)).to_be_visible()
    context.close()


def test_removing_a_diagnosis_asks_first_and_keeps_it_when_cancelled(page, cast):
    diagnosis = Diagnosis.objects.create(patient=cast.alice, icd10_code="F41.1", description="Generalized anxiety")
    sign_in(page, cast.bob)
    page.get_by_role("heading", name="Good day").wait_for()
    page.goto(f"/patients/{cast.alice.pk}/")
    page.get_by_role("button", name=f"Remove {diagnosis}").click()
    expect(
        page.get_by_role("heading", name=f"Remove {diagnosis} from {cast.alice.full_name}'s record?")
    ).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("button", name=f"Remove {diagnosis}")).to_be_visible()
    assert Diagnosis.objects.filter(pk=diagnosis.pk).exists()

    page.get_by_role("button", name=f"Remove {diagnosis}").click()
    page.get_by_role("button", name="Remove", exact=True).click()
    page.get_by_text(f"Removed {diagnosis} from the record.").wait_for()
    assert not Diagnosis.objects.filter(pk=diagnosis.pk).exists()


def test_a_new_staff_member_is_added_chooses_a_password_from_the_email_and_enrols_two_factor(
    browser, live_server, page, cast
):
    sign_in(page, cast.admin)
    page.goto("/accounts/staff/")
    page.get_by_label("Username").fill("dr.new")
    page.get_by_label("First name").fill("Nia")
    page.get_by_label("Last name").fill("New")
    page.get_by_label("Email").fill("nia@practice.example")
    page.get_by_label("Role").select_option("prescriber")
    page.get_by_role("button", name="Add the staff member").click()
    expect(page.get_by_text("A link to choose their password is on its way")).to_be_visible()
    expect(page.get_by_role("row", name="Nia New").get_by_text("waiting for set-up")).to_be_visible()

    link = re.search(r"https?://\S+?(/accounts/password/set/[^/\s]+/)", mail.outbox[-1].body).group(1)
    newcomer = browser.new_context(base_url=live_server.url, viewport={"width": 1024, "height": 768}).new_page()
    newcomer.goto(link)
    newcomer.locator("#id_new_password1").fill("nia-chose-this-long-passphrase")
    newcomer.locator("#id_new_password2").fill("nia-chose-this-long-passphrase")
    newcomer.get_by_role("button", name="Save password").click()
    expect(newcomer.get_by_text("you then set up an authenticator app")).to_be_visible()
    newcomer.get_by_label("Username").fill("dr.new")
    newcomer.get_by_label("Password").fill("nia-chose-this-long-passphrase")
    newcomer.get_by_role("button", name="Sign in").click()
    newcomer.get_by_role("heading", name="Set up two-factor sign-in").wait_for()
    secret = newcomer.locator("code").inner_text()
    newcomer.get_by_label("Code from your authenticator app").fill(f"{totp(base64.b32decode(secret)):06d}")
    newcomer.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(newcomer.get_by_text("Two-factor sign-in is set up.")).to_be_visible()
    newcomer.context.close()
