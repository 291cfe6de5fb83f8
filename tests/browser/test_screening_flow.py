"""Browser flow: intake → screening → consultation → consent → enrolment, through the pages staff and patients use."""

import pytest

from kapstone.program import services as program
from kapstone.program.models import Enrolment
from kapstone.screening.forms import MEDICAL_QUESTIONS, PSYCHIATRIC_QUESTIONS
from kapstone.screening.models import ConsentSignature, Consultation, ScreeningResult
from tests.browser.helpers import sign_in
from tests.screening.helpers import PDF_BYTES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_intake_screening_consultation_consent_and_enrolment(browser, live_server, cast):
    group = program.group_create(
        actor=cast.bob,
        name="Thursday group",
        template_id="journey-clinical-style",
        start_date="2030-01-03",
        facilitators=[cast.bob, cast.therapist],
    )
    desk = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = desk.new_page()
    page.set_default_timeout(15000)
    sign_in(page, cast.bob)
    page.get_by_role("heading", name="Good day").wait_for()

    # Intake, from the patient's record.
    page.goto(f"/patients/{cast.alice.pk}/")
    page.get_by_role("link", name="Screening and consent").click()
    page.get_by_role("heading", name="Enrolment gate: cannot join a group yet").wait_for()
    page.get_by_role("link", name="Start the intake").click()
    page.get_by_label("Depression").check()
    page.get_by_label("Current episode: months").fill("26")
    page.get_by_label("Current episode: severity").select_option("severe_without_psychosis")
    for group_name, questions in (("psychiatric", PSYCHIATRIC_QUESTIONS), ("medical", MEDICAL_QUESTIONS)):
        for name in questions:
            page.locator(f'input[name="{group_name}__{name}"][value="no"]').check()
    for index, (drug, weeks, improvement) in enumerate([("escitalopram", "8", "15"), ("venlafaxine", "12", "20")]):
        page.locator(f'input[name="trials-{index}-drug"]').fill(drug)
        page.locator(f'input[name="trials-{index}-weeks"]').fill(weeks)
        page.locator(f'input[name="trials-{index}-adequate_dose"]').check()
        page.locator(f'input[name="trials-{index}-improvement_percent"]').fill(improvement)
    # 0.5 mg/day is 5 mg diazepam-equivalent: under the 8 mg threshold above which the decision needs review.
    page.locator('input[name="medications-0-name"]').fill("lorazepam")
    page.locator('input[name="medications-0-dose_mg_per_day"]').fill("0.5")
    page.get_by_label("Systolic BP (mmHg)").fill("124")
    page.get_by_label("Diastolic BP (mmHg)").fill("78")
    page.get_by_role("button", name="Save and screen").click()

    # Screening: the decision with its reasons and sources.
    page.get_by_text("Intake v1 is saved. Screening decision: Eligible.").wait_for()
    result = ScreeningResult.objects.get(patient=cast.alice)
    assert result.decision == "eligible" and result.treatment_resistant
    assert page.locator("#decision-h .decision").inner_text() == "Eligible"
    assert "diazepam-equivalent" in page.locator("section", has=page.locator("#decision-h")).inner_text()

    # Consultation with the outside team, with the reply attached.
    page.get_by_text("Log a contact").click()
    page.get_by_label("…or who was contacted").fill("Dr. Rivera, Northside Psychiatry")
    page.get_by_label("How").select_option("phone")
    page.get_by_label("Outcome").select_option("supports")
    page.get_by_label("Their reply (optional)").set_input_files(
        {"name": "rivera-reply.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}
    )
    page.get_by_role("button", name="Log the contact").click()
    page.get_by_text("The contact with the outside treatment team is logged.").wait_for()
    assert Consultation.objects.get(patient=cast.alice).reply_content_type == "application/pdf"

    # Without consent the group refuses, with the gate's words.
    page.goto(f"/program/groups/{group.pk}/")
    enrol_form = page.locator("form[action$='/enrol/']")
    enrol_form.get_by_label("Patient").select_option(str(cast.alice.pk))
    enrol_form.get_by_role("button", name="Enrol").click()
    page.get_by_text("cannot join yet: informed consent is not signed (form v2)").wait_for()

    # Consent, signed by the patient on a phone.
    phone = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True)
    patient_page = phone.new_page()
    patient_page.set_default_timeout(15000)
    sign_in(patient_page, cast.alice_user, with_code=False)
    patient_page.get_by_role("link", name="Before your course: health questions and consent →").click()
    patient_page.get_by_role("link", name="Read and sign the consent form").click()
    patient_page.get_by_role("heading", name="No driving until the next day").wait_for()
    patient_page.get_by_label("Type your full name").fill("Alice Abernathy")
    patient_page.get_by_label("I have read and understood this form").check()
    patient_page.get_by_role("button", name="Sign the consent form").click()
    patient_page.get_by_text("your consent is signed").wait_for()
    phone.close()
    assert ConsentSignature.objects.get(patient=cast.alice).ip_address == "127.0.0.1"

    # Enrolment: the gate is open and the group takes her.
    page.goto(f"/screening/patients/{cast.alice.pk}/")
    page.get_by_role("heading", name="Enrolment gate: may join a group").wait_for()
    page.goto(f"/program/groups/{group.pk}/")
    enrol_form = page.locator("form[action$='/enrol/']")
    enrol_form.get_by_label("Patient").select_option(str(cast.alice.pk))
    enrol_form.get_by_role("button", name="Enrol").click()
    page.get_by_text("Alice Abernathy has joined Thursday group.").wait_for()
    assert Enrolment.objects.get(group=group, patient=cast.alice).status == Enrolment.Status.ENROLLED
    desk.close()
