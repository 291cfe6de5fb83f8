"""Keyboard users on a phone see where they are: a control reached by Tab or Shift+Tab is never hidden under the
sticky bar that holds a long form's buttons, nor under a creativity task's sticky timer (WCAG 2.2 2.4.11, focus not
obscured)."""

import pytest
from django.urls import reverse

from kapstone.creativity.models import Task
from tests.browser.helpers import sign_in
from tests.creativity.factories import due_task

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
FOCUSED_TEXT = "document.activeElement.textContent.trim() || document.activeElement.name"


def _phone_page(browser, live_server, user):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    sign_in(page, user, with_code=False)
    page.wait_for_url("**/portal/**")
    return context, page


def _covered_on_the_way(page, *, key: str, until: str) -> tuple[list[str], int]:
    """Presses the key until the control named `until` has focus; returns each covered stop and how many stops."""
    covered, stops = [], 0
    while page.evaluate(FOCUSED_TEXT) != until:
        page.keyboard.press(key)
        stops += 1
        if (finding := page.evaluate(COVERED_BY)) is not None:
            covered.append(finding)
        assert stops < 200, f"{key} never reached {until}"
    return covered, stops


def test_tabbing_through_the_pre_intake_on_a_phone_keeps_each_control_above_the_sticky_submit_bar(
    browser, live_server, cast
):
    context, page = _phone_page(browser, live_server, cast.alice_user)
    page.goto(reverse("screening:portal_pre_intake"))
    page.get_by_role("button", name="Send my answers").wait_for()

    covered, stops = _covered_on_the_way(page, key="Tab", until="Send my answers")
    context.close()
    assert stops > 10
    assert covered == []


def test_tabbing_both_ways_through_a_timed_creativity_task_keeps_each_word_between_the_timer_and_the_buttons(
    browser, live_server, cast
):
    """The word-association task's ten boxes sit between a timer stuck to the top and two stacked buttons stuck to
    the bottom; each must be in view when it takes the focus, going down and coming back up."""
    task = due_task(cast.alice, Task.DAT)
    context, page = _phone_page(browser, live_server, cast.alice_user)
    page.goto(reverse("creativity:my_task", kwargs={"administration_id": task.pk}))
    page.get_by_role("button", name="Start").click()
    page.locator(".timer-value").wait_for()

    down, _ = _covered_on_the_way(page, key="Tab", until="I'm done: hand in")
    up, _ = _covered_on_the_way(page, key="Shift+Tab", until="word_1")
    context.close()
    assert down == [] and up == []
