import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from kapstone.measures import services
from kapstone.measures.models import Assessment, CriticalAlert
from tests.browser.helpers import sign_in
from tests.measures.factories import due_assessment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# PHQ-9 answers by item: total 10 (moderate), item 9 "Several days".
ANSWERS = [
    "Several days",
    "More than half the days",
    "Several days",
    "More than half the days",
    "Several days",
    "Several days",
    "Several days",
    "Not at all",
    "Several days",
]


def test_invitation_to_completion_to_the_clinicians_score_and_alert(browser, live_server, cast, settings, monkeypatch):
    # The walk-through may run during the patient's quiet hours; those are tested in tests/measures.
    monkeypatch.setattr(services, "may_message_now", lambda **kwargs: True)
    settings.SITE_URL = live_server.url
    assessment = due_assessment(cast.alice)
    services.reminders_send_due()
    link = re.search(r"https?://\S+/portal/i/\S+", mail.outbox[0].body).group(0)

    phone = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True)
    page = phone.new_page()
    page.set_default_timeout(15000)
    page.goto(link)  # signed out: the link asks for sign-in first, then opens the form
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Patient Health Questionnaire-9").wait_for()

    questions = page.locator("fieldset.question")
    questions.nth(0).get_by_label(ANSWERS[0]).check()
    page.get_by_role("button", name="Save and finish later").click()
    page.get_by_text("Saved. You can finish").wait_for()
    page.locator(".due-list a").first.click()
    assert questions.nth(0).get_by_label(ANSWERS[0]).is_checked()
    for index, answer in enumerate(ANSWERS[1:], start=1):
        questions.nth(index).get_by_label(answer, exact=True).check()
    page.get_by_role("button", name="Submit answers").click()
    page.get_by_role("heading", name="Help is available now").wait_for()
    expect(page.get_by_role("link", name="call 988", exact=True).first).to_be_visible()
    expect(page.get_by_text("This form is not watched in real time.")).to_be_visible()
    phone.close()

    assessment.refresh_from_db()
    assert assessment.total == 10 and assessment.status == Assessment.Status.COMPLETED
    alert = CriticalAlert.objects.get(assessment=assessment)

    desk = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = desk.new_page()
    page.set_default_timeout(15000)
    sign_in(page, cast.bob)
    page.get_by_role("heading", name="Good day").wait_for()
    page.goto("/measures/alerts/")
    row = page.locator(f"#alert-{alert.pk}")
    assert "Item 9" in row.inner_text() and "total 10" in row.inner_text()
    row.get_by_role("link", name="Alice Abernathy").click()
    page.get_by_role("heading", name="PHQ-9").first.wait_for()
    expect(page.get_by_role("img", name="PHQ-9 over time").first).to_be_visible()
    expect(page.get_by_role("cell", name="moderate", exact=True)).to_be_visible()
    page.go_back()
    row = page.locator(f"#alert-{alert.pk}")
    row.get_by_text("Acknowledge").first.click()
    row.get_by_label("What was done").fill("Phoned Alice; safety plan reviewed.")
    row.get_by_role("button", name="Acknowledge").click()
    page.get_by_text("is acknowledged").wait_for()
    alert.refresh_from_db()
    assert alert.acknowledged_by == cast.bob
    desk.close()
