"""The creativity pages: the patient's task from start to hand-in, resume, bad input, the dosing-day notice,
and the clinician's page at a constant number of queries."""

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kapstone.audit.models import AuditEvent
from kapstone.creativity import services
from kapstone.creativity.models import CreativityAdministration, Task
from tests.conftest import signed_in_client
from tests.creativity.factories import due_task, started_task

Status = CreativityAdministration.Status


def test_a_patient_starts_saves_resumes_and_hands_in_the_alternative_uses_task(cast):
    task = due_task(cast.alice)
    client = signed_in_client(cast.alice_user)
    url = reverse("creativity:my_task", args=[task.pk])
    assert url in client.get(reverse("creativity:my_tasks")).content.decode()
    assert "Start" in client.get(url).content.decode()
    client.post(url, {"action": "start"})
    first, second = (p["label"] for p in task.prompts)
    page = client.get(url).content.decode()
    assert f"Unusual uses for {first}" in page
    assert 170 <= int(re.search(r'data-seconds-left="(\d+)"', page).group(1)) <= 180
    response = client.post(url, {"action": "save", "part": 0, "ideas": "a doorstop\r\n\r\nbookend for heavy books"})
    assert response.status_code == 302
    page = client.get(url).content.decode()  # coming back within the time limit
    assert "a doorstop\nbookend for heavy books</textarea>" in page
    client.post(url, {"action": "next", "part": 0, "ideas": "a doorstop\nbookend for heavy books"})
    assert f"Unusual uses for {second}" in client.get(url).content.decode()
    response = client.post(url, {"action": "finish", "part": 1, "ideas": "draw a map on the wall"}, follow=True)
    assert "the task is finished" in response.content.decode()
    task.refresh_from_db()
    assert task.status == Status.COMPLETED and task.responses.count() == 3 and task.originality_top2 is not None
    history = client.get(reverse("creativity:my_history")).content.decode()
    assert "<img" not in history and '<title id="creativity-aut-title">Alternative uses' in history


def test_a_patient_opening_their_task_is_recorded_as_reading_it(cast):
    """The task page shows the answers saved so far: each view of it is a read of the patient's record."""
    task = started_task(cast.alice)
    services.answers_save(actor=None, administration=task, part=0, ideas=["a doorstop"])
    response = signed_in_client(cast.alice_user).get(reverse("creativity:my_task", args=[task.pk]))
    assert "a doorstop" in response.content.decode()
    read = AuditEvent.objects.get(action="read", object_type="creativity_administration", object_id=str(task.pk))
    assert (read.actor_id, read.patient_id) == (cast.alice_user.pk, cast.alice.pk)


def test_a_patient_who_comes_back_after_the_time_limit_finds_the_task_closed_and_scored(cast):
    start = services.timezone.now() - services.datetime.timedelta(minutes=30)
    task = started_task(cast.alice, Task.DAT, at=start)
    services.answers_save(actor=None, administration=task, part=0, words=["sun", "law"], now=start)
    response = signed_in_client(cast.alice_user).get(reverse("creativity:my_task", args=[task.pk]), follow=True)
    assert "Time is up for this task" in response.content.decode()
    task.refresh_from_db()
    assert task.status == Status.COMPLETED and task.closed_by_timer and task.dat_words == ["sun", "law"]


def test_too_many_ideas_are_refused_with_a_clear_message_and_nothing_is_lost(cast):
    task = started_task(cast.alice)
    ideas = "\n".join(f"idea number {n}" for n in range(45))
    response = signed_in_client(cast.alice_user).post(
        reverse("creativity:my_task", args=[task.pk]), {"action": "save", "part": 0, "ideas": ideas}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Please keep to 40 ideas for one object (you have 45)" in page and "idea number 44" in page
    assert not task.responses.exists()


def test_an_automatic_hand_in_over_the_limits_stores_what_fits_and_tells_the_patient(cast):
    task = started_task(cast.alice)
    label = task.prompts[0]["label"]
    ideas = "\n".join(["a doorstop", "x" * 600] + [f"idea number {n}" for n in range(43)])
    client = signed_in_client(cast.alice_user)
    url = reverse("creativity:my_task", args=[task.pk])
    response = client.post(url, {"action": "next", "part": 0, "ideas": ideas, "handed_in_by": "timer"}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert f"45 ideas were handed in for {label}; the first 40 are kept" in page
    assert f"Idea 2 was longer than 500 characters for {label}" in page
    assert f"Unusual uses for {task.prompts[1]['label']}" in page
    assert task.responses.count() == 40 and task.responses.get(order=2).cut_to_limit


def test_a_dat_hand_in_with_an_over_long_word_is_stored_not_refused(cast):
    task = started_task(cast.alice, Task.DAT)
    client = signed_in_client(cast.alice_user)
    url = reverse("creativity:my_task", args=[task.pk])
    response = client.post(url, {"action": "finish", "word_1": "volcano", "word_2": "z" * 41}, follow=True)
    assert "Word 2 was longer than 40 characters" in response.content.decode()
    task.refresh_from_db()
    assert task.status == Status.COMPLETED and task.dat_words[:2] == ["volcano", "z" * 40]


def test_a_refused_automatic_hand_in_tells_the_page_not_to_send_it_again(cast):
    task = started_task(cast.alice)
    client = signed_in_client(cast.alice_user)
    url = reverse("creativity:my_task", args=[task.pk])
    response = client.post(url, {"action": "next", "part": "first", "ideas": "a doorstop", "handed_in_by": "timer"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "data-timer-handed-in" in page and "could not be handed in automatically" in page
    manual = client.post(url, {"action": "next", "part": "first", "ideas": "a doorstop"})
    assert manual.status_code == 400 and "data-timer-handed-in" not in manual.content.decode()


def test_the_clinician_sees_what_a_hand_in_trimmed(cast):
    task = started_task(cast.alice)
    ideas = [f"idea number {n}" for n in range(41)]
    services.answers_save(actor=None, administration=task, part=0, ideas=ideas, finish_part=True)
    services.answers_save(actor=None, administration=task, part=1, ideas=[], finish_part=True)
    page = signed_in_client(cast.bob).get(reverse("creativity:administration", args=[cast.alice.pk, task.pk]))
    assert "41 ideas were handed in for" in page.content.decode()


def test_a_refused_autosave_says_what_to_fix(cast):
    task = started_task(cast.alice)
    url = reverse("creativity:my_autosave", args=[task.pk])
    response = signed_in_client(cast.alice_user).post(url, {"part": 0, "ideas": "x" * 501})
    assert response.status_code == 400
    assert response.json() == {"saved": False, "error": "Idea 1 is longer than 500 characters; please shorten it."}


def test_the_page_script_autosaves_and_learns_the_time_left(cast):
    task = started_task(cast.alice, Task.DAT)
    client = signed_in_client(cast.alice_user)
    url = reverse("creativity:my_autosave", args=[task.pk])
    data = client.post(url, {"word_1": "sun", "word_2": "justice"}).json()
    assert data["saved"] and not data["closed"] and 200 <= data["seconds_left"] <= 240
    task.refresh_from_db()
    assert task.dat_words[:3] == ["sun", "justice", ""]
    assert client.post(url, {"word_1": "x" * 41}).status_code == 400


def test_on_a_dosing_day_the_portal_says_come_back_tomorrow_and_will_not_start(cast):
    task = due_task(cast.alice)
    cast.dosing_session()
    client = signed_in_client(cast.alice_user)
    assert "Not today: come back tomorrow." in client.get(reverse("creativity:my_tasks")).content.decode()
    url = reverse("creativity:my_task", args=[task.pk])
    assert "Come back tomorrow." in client.get(url).content.decode()
    response = client.post(url, {"action": "start"}, follow=True)
    assert "Please come back tomorrow" in response.content.decode()
    task.refresh_from_db()
    assert task.status == Status.DUE


def test_on_a_dosing_day_the_portal_home_offers_no_word_games_and_says_why(cast):
    client = signed_in_client(cast.alice_user)
    tasks = reverse("creativity:my_tasks")
    assert f'href="{tasks}"' in client.get(reverse("portal:home")).content.decode()
    cast.dosing_session()
    home = client.get(reverse("portal:home")).content.decode()
    assert f'href="{tasks}"' not in home and "No word games today" in home
    assert reverse("creativity:my_history") in home


def test_the_portal_home_says_how_many_word_games_are_waiting(cast):
    client = signed_in_client(cast.alice_user)
    assert "Word games</a>: none to do right now" in client.get(reverse("portal:home")).content.decode()
    signed_in_client(cast.bob).post(
        reverse("creativity:schedule", args=[cast.alice.pk]), {"occasion": "baseline", "tasks": "both"}
    )
    assert "Word games</a>: 2 to do now" in client.get(reverse("portal:home")).content.decode()


def test_staff_schedule_tasks_and_a_dosing_day_is_refused_with_the_reason(cast):
    client = signed_in_client(cast.bob)
    url = reverse("creativity:schedule", args=[cast.alice.pk])
    response = client.post(url, {"occasion": "baseline", "tasks": "both"}, follow=True)
    assert "2 task(s) are now in Alice" in response.content.decode()
    assert client.post(url, {"occasion": "someday", "tasks": "both"}).status_code == 400
    cast.dosing_session()
    response = client.post(url, {"occasion": "end_of_course", "tasks": "aut"}, follow=True)
    assert "Not scheduled: the patient has a ketamine dosing session" in response.content.decode()
    assert CreativityAdministration.objects.filter(patient=cast.alice).count() == 2


def _page_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_clinicians_page_takes_the_same_number_of_queries_for_one_task_or_many(cast):
    client = signed_in_client(cast.therapist)
    url = reverse("creativity:patient", args=[cast.alice.pk])
    due_task(cast.alice, occasion="baseline")
    one = _page_queries(client, url)
    for occasion in ("end_of_course", "follow_up_1m", "follow_up_3m"):
        due_task(cast.alice, Task.DAT, occasion=occasion)
        due_task(cast.alice, occasion=occasion)
    assert _page_queries(client, url) == one


def test_the_clinician_sees_each_response_with_its_originality(cast):
    task = started_task(cast.alice)
    services.answers_save(actor=None, administration=task, part=0, ideas=["a doorstop", "<b>paperweight</b>"])
    services.answers_save(
        actor=None, administration=task, part=0, ideas=["a doorstop", "<b>paperweight</b>"], finish_part=True
    )
    services.answers_save(actor=None, administration=task, part=1, ideas=[], finish_part=True)
    page = signed_in_client(cast.bob).get(reverse("creativity:administration", args=[cast.alice.pk, task.pk]))
    html = page.content.decode()
    assert "a doorstop" in html and "&lt;b&gt;paperweight&lt;/b&gt;" in html
    assert "Originality (1-5)" in html


def test_with_no_score_yet_the_pages_say_so_instead_of_drawing_empty_charts(cast):
    from django.utils import timezone

    staff_url = reverse("creativity:patient", args=[cast.alice.pk])
    staff = signed_in_client(cast.bob).get(staff_url).content.decode()
    assert "No creativity scores yet: they are charted here" in staff and 'id="creativity-aut-title"' not in staff
    mine = signed_in_client(cast.alice_user).get(reverse("creativity:my_history")).content.decode()
    assert "No scores yet: they appear here after you complete a word game" in mine and "<svg" not in mine
    task = due_task(cast.alice)
    CreativityAdministration.objects.filter(pk=task.pk).update(
        status=Status.COMPLETED, submitted_at=timezone.now(), originality_top2=3.1, originality_mean=2.8
    )
    staff = signed_in_client(cast.bob).get(staff_url).content.decode()
    assert "No creativity scores yet" not in staff and 'id="creativity-aut-title"' in staff
