"""A therapist holds an integration session by video from its page; the patient finds the link on a phone."""

import datetime
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from kapstone.program.models import GroupSession
from tests.browser.helpers import sign_in
from tests.program.test_telehealth import integration_session

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
LINK = "https://video.example/tuesday-integration"


def watched(browser, live_server, *, phone: bool):
    size = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
    context = browser.new_context(base_url=live_server.url, viewport=size, is_mobile=phone)
    page = context.new_page()
    page.set_default_timeout(15000)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    return context, page, violations


def axe_findings(page) -> list[str]:
    return [violation["id"] for violation in Axe().run(page, options=WCAG_21_AA).response["violations"]]


def test_a_therapist_holds_a_session_by_video_and_the_patient_joins_from_a_phone(browser, live_server, cast):
    dosing = cast.dosing_session()
    session = integration_session(cast)
    # The dosing session was yesterday, so the integration session tomorrow is the patient's next one.
    yesterday = timezone.now() - datetime.timedelta(days=1)
    GroupSession.objects.filter(pk=dosing.pk).update(starts_at=yesterday, ends_at=yesterday)

    context, page, violations = watched(browser, live_server, phone=False)
    sign_in(page, cast.therapist)
    page.goto(f"/program/sessions/{session.pk}/")
    page.get_by_role("heading", name="In person or by video").wait_for()
    assert page.locator("#video-now").inner_text().startswith("Now: held in person")
    page.get_by_label(re.compile(r"^Held")).select_option("video")
    page.get_by_label("Video link for this session").fill("http://video.example/not-secure")
    page.get_by_role("button", name="Save where it is held").click()
    page.get_by_text("Give an https link to the video room").wait_for()
    assert axe_findings(page) == [], "the refused form is accessible"
    page.get_by_label("Video link for this session").fill(LINK)
    page.get_by_role("button", name="Save where it is held").click()
    page.get_by_text("Integration 1 is held by video.").wait_for()
    assert page.locator("#video-now").get_by_role("link", name=LINK).get_attribute("href") == LINK
    assert axe_findings(page) == []
    context.close()
    session.refresh_from_db()
    assert (session.is_remote, session.video_url, session.calendar_sequence) == (True, LINK, 1)

    phone, page, phone_violations = watched(browser, live_server, phone=True)
    sign_in(page, cast.alice_user, with_code=False)
    page.get_by_role("heading", name="Hello, Alice").wait_for()
    join = page.get_by_role("link", name="join the session")
    assert join.get_attribute("href") == LINK
    expect(page.get_by_text("By video:")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    page.goto("/integration/my-timeline/")
    page.get_by_text("· by video").wait_for()
    phone.close()
    assert width <= 390, "the portal fits a phone screen without sideways scrolling"
    assert violations == [] and phone_violations == []
