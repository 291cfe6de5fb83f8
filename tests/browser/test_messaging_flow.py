"""A patient reads a message from their care team and answers it, on a phone."""

import pytest
from playwright.sync_api import expect

from kapstone.messaging import services
from kapstone.messaging.models import Message
from tests.browser.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_patient_reads_a_message_and_answers_it_on_a_phone(browser, live_server, cast):
    services.thread_start(
        actor=cast.nurse, patient=cast.alice, subject="Before Tuesday", body="Please bring a water bottle."
    )
    phone = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True)
    page = phone.new_page()
    page.set_default_timeout(15000)
    violations = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    sign_in(page, cast.alice_user, with_code=False)
    page.get_by_role("heading", name="Hello, Alice").wait_for()
    page.get_by_role("link", name="Messages").first.click()
    page.get_by_role("heading", name="Messages", exact=True).wait_for()
    expect(page.get_by_text("1 new")).to_be_visible()
    page.get_by_role("link", name="Before Tuesday").click()
    page.get_by_text("Please bring a water bottle.").wait_for()
    page.get_by_label("Your message").fill("Will do, thank you!")
    page.get_by_role("button", name="Send reply").click()
    page.get_by_text("Sent. Your care team will reply here").wait_for()
    expect(page.get_by_text("Will do, thank you!")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    phone.close()
    assert width <= 390, "the conversation fits a phone screen without sideways scrolling"
    assert violations == []
    reply = Message.objects.get(body="Will do, thank you!")
    assert reply.from_patient and reply.thread.subject == "Before Tuesday"
