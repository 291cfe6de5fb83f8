"""A portal chart's labels are readable on a phone, and the chart on a desk is drawn as before."""

import pytest
from django.urls import reverse

from tests.browser.helpers import sign_in
from tests.measures.test_reliable_change_and_practice_settings import completed, phq9_total

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _drawn(browser, live_server, cast, width: int) -> tuple[float, float, float]:
    """On a screen `width` wide: the drawn height in CSS pixels of an x-axis label, the chart's width, and the
    page's rem."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": 844}, is_mobile=True)
    page = context.new_page()
    sign_in(page, cast.alice_user, with_code=False)
    page.goto(reverse("portal:history"))
    label = page.locator("svg.chart text[text-anchor='middle']").nth(1).bounding_box()
    chart = page.locator("svg.chart").first.bounding_box()
    rem = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    context.close()
    return label["height"], chart["width"], rem


def test_a_charts_labels_keep_their_drawn_size_on_a_phone(browser, live_server, cast):
    for days_ago, total in ((40, 18), (20, 12), (2, 6)):
        completed(cast.alice, "phq9", phq9_total(total), days_ago=days_ago)
    phone_label, phone_chart, _ = _drawn(browser, live_server, cast, 390)
    # A 10-unit label was 6 px tall shrunk to the phone's width; at the chart's drawn size it is about 12 px.
    assert phone_label >= 10 and phone_chart >= 640
    _, desk_chart, rem = _drawn(browser, live_server, cast, 1280)
    assert desk_chart == pytest.approx(42 * rem)  # on a desk the chart is as wide as before (42rem at most)
