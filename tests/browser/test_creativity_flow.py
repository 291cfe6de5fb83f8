import pytest
from playwright.sync_api import expect

from kapstone.creativity.models import CreativityAdministration, Task
from tests.creativity.factories import due_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WORDS = ["cat", "volcano", "justice", "spoon", "ocean", "violin", "tax", "cloud", "ladder", "fever"]


def test_a_patient_completes_both_creativity_tasks_on_a_phone(browser, live_server, cast):
    aut, dat = due_task(cast.alice, Task.AUT), due_task(cast.alice, Task.DAT)
    phone = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True)
    page = phone.new_page()
    page.set_default_timeout(20000)
    page.goto("/creativity/my/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Creativity tasks").wait_for()

    page.locator(f"a[href='/creativity/my/{aut.pk}/']").click()
    page.get_by_role("button", name="Start").click()
    first, second = (p["label"] for p in aut.prompts)
    page.get_by_role("heading", name=f"Unusual uses for {first}").wait_for()
    # The server writes "N seconds"; the page's script turns it into a m:ss countdown.
    expect(page.locator(".timer-value")).to_contain_text(":")
    page.get_by_label("Your ideas, one per line").fill("a doorstop\nhold down a tent in the wind")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved. You can come back").wait_for()
    assert "hold down a tent" in page.get_by_label("Your ideas, one per line").input_value()
    page.get_by_role("button", name="Next object").click()
    page.get_by_role("heading", name=f"Unusual uses for {second}").wait_for()
    page.get_by_label("Your ideas, one per line").fill("plant markers in a garden")
    page.get_by_role("button", name="I'm done: hand in").click()
    page.get_by_text("the task is finished").wait_for()

    page.locator(f"a[href='/creativity/my/{dat.pk}/']").click()
    page.get_by_role("button", name="Start").click()
    for number, word in enumerate(WORDS, start=1):
        page.get_by_label(f"Word {number}", exact=True).fill(word)
    page.get_by_role("button", name="I'm done: hand in").click()
    page.get_by_text("the task is finished").wait_for()
    page.get_by_role("link", name="My creativity scores over time").click()
    page.get_by_role("heading", name="My creativity scores over time").wait_for()
    assert page.locator("img.chart").is_visible()
    phone.close()

    aut.refresh_from_db()
    dat.refresh_from_db()
    assert aut.status == dat.status == CreativityAdministration.Status.COMPLETED
    assert aut.responses.count() == 3 and aut.originality_top2 is not None
    assert dat.dat_score is not None
