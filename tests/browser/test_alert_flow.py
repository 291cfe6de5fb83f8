"""From a patient's high-risk answer in the portal to the prescriber's acknowledgement of the alert they were
paged about: the crisis page with tappable lines, a page with no patient details, the link behind sign-in."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from kapstone.alerts.models import EscalationStep
from kapstone.measures.models import CriticalAlert
from tests.browser.helpers import sign_in
from tests.measures.factories import due_assessment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_high_risk_answer_pages_the_prescriber_who_acknowledges_it(browser, live_server, cast, settings):
    settings.SITE_URL = live_server.url
    cast.bob.email = "bob@practice.example"
    cast.bob.save(update_fields=["email"])
    assessment = due_assessment(cast.alice, "cssrs-screener")

    phone = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True)
    page = phone.new_page()
    page.set_default_timeout(15000)
    page.goto(f"/portal/questionnaires/{assessment.pk}/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    questions = page.locator("fieldset.question")
    questions.first.wait_for()
    for index in range(questions.count()):
        questions.nth(index).get_by_label("Yes", exact=True).check()
    page.get_by_role("button", name="Submit answers").click()
    page.get_by_role("heading", name="Help is available now").wait_for()
    expect(page.locator('a[href="tel:988"]').first).to_be_visible()
    expect(page.locator('a[href="sms:988"]').first).to_be_visible()
    phone.close()

    alert = CriticalAlert.objects.get()
    assert alert.get_priority_display() == "high" and EscalationStep.objects.filter(alert=alert, step=0).exists()
    [paged] = [m for m in mail.outbox if m.to == ["bob@practice.example"]]
    assert "Alice" not in paged.body and "C-SSRS" not in paged.body
    link = re.search(r"https?://\S+/alerts/\d+/", paged.body).group(0)

    desk = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = desk.new_page()
    page.set_default_timeout(15000)
    sign_in(page, cast.bob)
    page.get_by_role("heading", name="Good day").wait_for()
    page.goto(link)
    page.get_by_role("heading", name="Suicide-risk answer: Alice Abernathy").wait_for()
    assert "prescriber on the care team" in page.locator("main").inner_text()
    page.get_by_label("What was done").fill("Phoned Alice; she is with her sister; safety plan reviewed.")
    page.get_by_role("button", name="Acknowledge").click()
    page.get_by_text("is acknowledged").wait_for()
    alert.refresh_from_db()
    assert alert.acknowledged_by == cast.bob and not alert.is_open
    desk.close()
