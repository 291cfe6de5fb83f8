import pytest
from playwright.sync_api import expect

from kapstone.creativity.models import CreativityAdministration, Task
from tests.browser.helpers import sign_in
from tests.creativity.factories import due_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WORDS = ["cat", "volcano", "justice", "spoon", "ocean", "violin", "tax", "cloud", "ladder", "fever"]


def test_a_patient_completes_both_creativity_tasks_on_a_phone(browser, live_server, cast):
    aut, dat = due_task(cast.alice, Task.AUT), due_task(cast.alice, Task.DAT)
    phone = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True)
    page = phone.new_page()
    # The first hand-in loads the sentence-embedding model in the server, which takes a while on a busy machine.
    page.set_default_timeout(60000)
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
    expect(page.locator("svg.chart").first).to_be_visible()
    phone.close()

    aut.refresh_from_db()
    dat.refresh_from_db()
    assert aut.status == dat.status == CreativityAdministration.Status.COMPLETED
    assert aut.responses.count() == 3 and aut.originality_top2 is not None
    assert dat.dat_score is not None


def _short_task_page(page, cast, *, seconds: int) -> tuple[CreativityAdministration, list[str]]:
    """Alice's AUT with a few seconds per object, started in the browser; returns it and a log that collects
    every POST the page sends to the task from then on."""
    task = due_task(cast.alice, Task.AUT)
    CreativityAdministration.objects.filter(pk=task.pk).update(seconds_per_part=seconds)
    url = f"/creativity/my/{task.pk}/"
    sign_in(page, cast.alice_user, with_code=False)
    page.goto(url)
    page.get_by_role("button", name="Start").click()
    page.get_by_role("heading", name=f"Unusual uses for {task.prompts[0]['label']}").wait_for()
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and r.url.endswith(url) else None)
    return task, posts


def test_at_time_up_the_page_hands_in_once_keeps_what_fits_and_tells_the_patient(page, cast):
    task, posts = _short_task_page(page, cast, seconds=6)
    label = task.prompts[0]["label"]
    ideas = ["a doorstop", "y" * 600] + [f"idea number {n}" for n in range(43)]
    page.get_by_label("Your ideas, one per line").fill("\n".join(ideas))
    page.get_by_text(f"45 ideas were handed in for {label}; the first 40 are kept").wait_for(timeout=20000)
    expect(page.get_by_text(f"Idea 2 was longer than 500 characters for {label}")).to_be_visible()
    page.get_by_text("the task is finished").wait_for(timeout=20000)
    assert len(posts) == 2  # one automatic hand-in per object, no more
    task.refresh_from_db()
    mine = task.responses.filter(prompt=task.prompts[0]["prompt"])
    assert task.status == CreativityAdministration.Status.COMPLETED
    assert mine.count() == 40 and mine.get(order=2).cut_to_limit


def test_a_hand_in_the_server_refuses_at_time_up_is_not_sent_again(page, cast):
    task, posts = _short_task_page(page, cast, seconds=4)
    page.get_by_label("Your ideas, one per line").fill("a doorstop")
    # A part number the server cannot read stands in for any refusal of the automatic hand-in.
    page.locator("input[name=part]").evaluate("input => { input.value = 'first'; }")
    page.get_by_text("could not be handed in automatically").wait_for(timeout=20000)
    page.wait_for_timeout(3000)
    assert len(posts) == 1
    expect(page.locator(".timer-value")).to_have_text("0:00")
