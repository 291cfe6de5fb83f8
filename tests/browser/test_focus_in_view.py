"""Keyboard users on a phone see where they are: a control reached by Tab is never hidden under the sticky bar that
holds a long form's submit button (WCAG 2.2 2.4.11, focus not obscured)."""

import pytest
from django.urls import reverse

from tests.browser.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What sits at the centre of the focused control: the control itself, something inside it or its label, or a cover.
COVERED_BY = """
() => {
  const focused = document.activeElement;
  const box = focused.getBoundingClientRect();
  const top = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  const labels = Array.from(focused.labels || []);
  if (!top || top === focused || focused.contains(top) || top.contains(focused)) return null;
  if (labels.some((label) => label.contains(top))) return null;
  return `${focused.tagName.toLowerCase()}#${focused.id} under ${top.tagName.toLowerCase()}.${top.className}`;
}
"""


def test_tabbing_through_the_pre_intake_on_a_phone_keeps_each_control_above_the_sticky_submit_bar(
    browser, live_server, cast
):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    sign_in(page, cast.alice_user, with_code=False)
    page.wait_for_url("**/portal/**")
    page.goto(reverse("screening:portal_pre_intake"))
    page.get_by_role("button", name="Send my answers").wait_for()

    covered, stops = [], 0
    while page.evaluate("document.activeElement.textContent.trim()") != "Send my answers":
        page.keyboard.press("Tab")
        stops += 1
        if (finding := page.evaluate(COVERED_BY)) is not None:
            covered.append(finding)
        assert stops < 200, "Tab never reached the submit button"
    context.close()
    assert stops > 10
    assert covered == []
