"""The outcomes report's long tables are closed on a phone, one tap away each, and open on a desk as before."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.helpers import sign_in
from tests.outcomes.factories import build_practice

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _report(browser, live_server, user, width: int):
    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": 844})
    page = context.new_page()
    page.set_default_timeout(15000)
    sign_in(page, user)
    page.goto(reverse("outcomes:report"))
    page.get_by_role("heading", name="Table 1. Demographics").wait_for()
    return context, page


def test_the_reports_long_tables_are_closed_on_a_phone_and_open_on_a_desk(browser, live_server, cast):
    build_practice(3)
    context, phone = _report(browser, live_server, cast.therapist, 390)
    parts = phone.locator("details[data-open-wide]")
    assert parts.count() >= 4
    assert phone.evaluate("[...document.querySelectorAll('details[data-open-wide]')].every(part => !part.open)")
    closed_height = phone.evaluate("document.documentElement.scrollHeight")
    # A subgroup table is a tap away, with its rows.
    phone.get_by_text("PHQ-9 by subgroup:").click()
    expect(phone.locator("details[data-open-wide][open] table").first).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollHeight") > closed_height
    context.close()
    # Another reader: a two-factor code is taken once, so the therapist could not sign in again within its minute.
    context, desk = _report(browser, live_server, cast.admin, 1280)
    assert desk.evaluate("[...document.querySelectorAll('details[data-open-wide]')].every(part => part.open)")
    context.close()
