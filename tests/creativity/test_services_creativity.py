"""The creativity services: the server-side clock, scoring what was saved, the dosing-day rule, scheduling."""

import datetime

import pytest
import yaml
from django.utils import timezone

from kapstone.creativity import protocol, scoring, selectors, services
from kapstone.creativity.models import AUTResponse, CreativityAdministration, Task
from kapstone.program.models import Enrolment, Group, GroupSession
from tests.creativity.factories import due_task, started_task

Status = CreativityAdministration.Status
MINUTE = datetime.timedelta(minutes=1)
# Over 500 characters and no word used twice but "and": a long answer, not a pasted-over one.
LONG_IDEA = "build a tiny house for a pet hamster with " + " and ".join(
    yaml.safe_load((scoring.DATA_DIR / "dat_nouns.yaml").read_text(encoding="utf-8"))["nouns"][:120]
)


def test_saved_ideas_are_there_on_return_within_the_time_limit(cast):
    task = started_task(cast.alice)
    prompt = task.prompts[0]["prompt"]
    outcome = services.answers_save(actor=None, administration=task, part=0, ideas=["hold a door open", "a plant pot"])
    assert outcome.saved and not outcome.closed
    assert selectors.saved_ideas(task, prompt) == ["hold a door open", "a plant pot"]
    services.answers_save(actor=None, administration=task, part=0, ideas=["hold a door open"])
    assert selectors.saved_ideas(task, prompt) == ["hold a door open"]


def test_answers_after_the_deadline_are_refused_and_the_late_task_scores_what_was_saved(cast):
    start = timezone.now()
    task = started_task(cast.alice, at=start)
    # The form, and so the first object, follows the patient's id; the ideas below are uses of a brick.
    task.prompts[0] = {"prompt": "brick", "label": "a brick"}
    CreativityAdministration.objects.filter(pk=task.pk).update(prompts=task.prompts)
    services.answers_save(
        actor=None, administration=task, part=0, ideas=["a doorstop", "grind it into pigment for paint"], now=start
    )
    late = start + 4 * MINUTE  # past part 1's deadline and its grace: the clock has moved on to part 2
    outcome = services.answers_save(actor=None, administration=task, part=0, ideas=["too late"], now=late)
    assert not outcome.saved and not outcome.closed
    assert selectors.administration_clock(administration=outcome.administration, now=late).part == 1
    closed = services.administrations_close_overdue(now=start + 7 * MINUTE)
    assert closed == 1
    task.refresh_from_db()
    assert task.status == Status.COMPLETED and task.closed_by_timer
    assert task.submitted_at == task.deadline
    rows = list(task.responses.order_by("prompt", "order"))
    assert [r.text for r in rows] == ["a doorstop", "grind it into pigment for paint"]
    assert all(1 <= r.originality <= 5 for r in rows)
    assert rows[1].originality > rows[0].originality  # a pigment is a more original use of a brick than a doorstop
    assert task.fluency == 1.0  # two ideas for the first object, none for the second: a mean of 2 and 0
    assert task.originality_top2 == pytest.approx((rows[0].originality + rows[1].originality) / 2, abs=1e-3)


def test_moving_on_early_starts_the_next_object_with_its_full_time_and_the_last_hands_in(cast):
    start = timezone.now()
    task = started_task(cast.alice, at=start)
    outcome = services.answers_save(
        actor=None, administration=task, part=0, ideas=["a doorstop"], finish_part=True, now=start + MINUTE
    )
    task = outcome.administration
    assert task.part == 1 and task.part_deadline == start + 4 * MINUTE and task.deadline == start + 4 * MINUTE
    outcome = services.answers_save(
        actor=None, administration=task, part=1, ideas=["a pen holder"], finish_part=True, now=start + 2 * MINUTE
    )
    assert outcome.closed and not outcome.administration.closed_by_timer
    with pytest.raises(services.NotOpen):
        services.answers_save(actor=None, administration=task, part=1, ideas=["more"], now=start + 2 * MINUTE)


def test_handing_in_the_dat_scores_the_first_seven_valid_words_and_bad_words_are_listed(cast):
    task = started_task(cast.alice, Task.DAT)
    words = ["cat", "", "volcano", "Cat", "spoon", "x9!", "justice", "ocean", "violin", "tax", "asdfghjkl"]
    outcome = services.answers_save(actor=None, administration=task, part=0, words=words[:10], finish_part=True)
    task = outcome.administration
    assert outcome.closed and task.status == Status.COMPLETED and not task.closed_by_timer
    assert task.dat_result["words_used"] == ["cat", "volcano", "spoon", "justice", "ocean", "violin", "tax"]
    assert 50 < task.dat_score < 110
    assert {w["reason"] for w in task.dat_result["invalid_words"]} == {"duplicate", "not_alphabetic"}


def test_a_dat_with_too_few_valid_words_has_no_score_and_says_why(cast):
    task = started_task(cast.alice, Task.DAT)
    task = services.answers_save(
        actor=None, administration=task, part=0, words=["sun", "", "книга"], finish_part=True
    ).administration
    assert task.dat_score is None and "only 1 valid words" in task.dat_result["reason"]


def test_empty_garbage_very_long_and_non_english_ideas_are_kept_but_not_scored_as_ideas(cast):
    task = started_task(cast.alice)
    ideas = [
        "qwrtzpsdfg xkcdvbnm",
        "строить дом из кирпича",
        LONG_IDEA,
        "a doorstop",
        "Doorstop!",
    ]
    services.answers_save(actor=None, administration=task, part=0, ideas=ideas)
    services.answers_save(actor=None, administration=task, part=0, ideas=ideas, finish_part=True)
    task = services.answers_save(actor=None, administration=task, part=1, ideas=[], finish_part=True).administration
    statuses = list(task.responses.order_by("order").values_list("status", flat=True))
    assert statuses == ["not_english_or_garbage", "not_english_or_garbage", "truncated", "ok", AUTResponse.DUPLICATE]
    first, second = task.object_summaries
    assert first["fluency"] == 2 and second["fluency"] == 0 and second["originality_mean"] is None
    assert task.fluency == 1.0 and task.originality_mean is not None


def test_a_task_is_never_started_on_a_dosing_day_and_the_patient_is_told_to_come_back_tomorrow(cast):
    cast.dosing_session()  # today, for alice's group
    task = CreativityAdministration.objects.create(
        patient=cast.alice,
        task=Task.AUT,
        occasion="baseline",
        form_id="A",
        forms_version=1,
        prompts=[{"prompt": "brick", "label": "a brick"}],
        seconds_per_part=180,
        due_at=timezone.now() - MINUTE,
        expires_at=timezone.now() + datetime.timedelta(days=7),
    )
    with pytest.raises(services.DosingDay, match="come back tomorrow"):
        services.administration_start(actor=cast.alice_user, administration=task)
    task.refresh_from_db()
    assert task.status == Status.DUE and task.started_at is None


def test_staff_cannot_schedule_a_task_on_a_dosing_day(cast):
    cast.dosing_session()
    with pytest.raises(services.DosingDay) as refused:
        services.administrations_schedule(actor=cast.bob, patient=cast.alice, occasion="baseline")
    assert "acute ketamine impairs attention and memory" in refused.value.for_staff
    assert not CreativityAdministration.objects.filter(patient=cast.alice).exists()


def _group(name, start_date):
    return Group.objects.create(
        name=name, template_id="t", template_version=1, min_size=1, max_size=4, start_date=start_date
    )


def _dosing(group, number, starts):
    return GroupSession.objects.create(
        group=group, kind="dosing", number=number, starts_at=starts, ends_at=starts + datetime.timedelta(hours=3)
    )


def test_a_group_schedule_moves_a_task_off_a_dosing_day_and_is_idempotent(cast):
    tz = selectors.practice_tz()
    first = datetime.datetime(2026, 5, 5, 10, 0, tzinfo=tz)
    course = _group("Course", first.date())
    Enrolment.objects.create(group=course, patient=cast.alice, status=Enrolment.Status.ENROLLED)
    _dosing(course, 1, first)
    _dosing(course, 2, first + datetime.timedelta(days=7))
    # Alice also doses with another group on the day her baseline would fall (course start - 7 days).
    other = _group("Other", first.date())
    Enrolment.objects.create(group=other, patient=cast.alice, status=Enrolment.Status.COMPLETED)
    _dosing(other, 1, first - datetime.timedelta(days=7, hours=1))
    assert services.administrations_schedule_for_group(actor=cast.bob, group=course) == 10
    assert services.administrations_schedule_for_group(actor=cast.bob, group=course) == 0
    baseline = CreativityAdministration.objects.filter(group=course, occasion="baseline")
    # Clear 24 h after that session ended (09:00 + 3 h), the day after.
    assert {t.due_at for t in baseline} == {first - datetime.timedelta(days=6, hours=-2)}
    sessions = selectors.dosing_sessions_of([cast.alice.pk])[cast.alice.pk]
    for task in CreativityAdministration.objects.filter(group=course):
        assert protocol.dosing_block_until(sessions, at=task.due_at, tz=tz) is None
    forms = CreativityAdministration.objects.filter(group=course, task=Task.AUT).values_list("form_id", flat=True)
    assert len(set(forms)) == 5


def test_the_outcomes_frame_has_one_row_per_scored_task_and_no_free_text(cast):
    task = started_task(cast.alice, Task.DAT)
    words = ["cat", "volcano", "spoon", "justice", "ocean", "violin", "tax"]
    services.answers_save(actor=None, administration=task, part=0, words=words, finish_part=True)
    due_task(cast.dana)
    rows = list(selectors.creativity_scores_frame())
    assert len(rows) == 1 and rows[0]["patient_id"] == cast.alice.pk and rows[0]["dat_score"] is not None
    assert set(rows[0]) == set(selectors.SCORE_COLUMNS)


def test_the_background_sweep_closes_overdue_tasks_and_lapses_unstarted_ones(cast):
    from kapstone.creativity.tasks import close_overdue_tasks

    start = timezone.now() - datetime.timedelta(hours=1)
    started = started_task(cast.alice, Task.DAT, at=start)
    lapsed = due_task(cast.dana, due_at=start - datetime.timedelta(days=30))
    assert close_overdue_tasks.delay().get() == 1
    started.refresh_from_db()
    lapsed.refresh_from_db()
    assert started.status == Status.COMPLETED and started.closed_by_timer and started.dat_score is None
    assert lapsed.status == Status.EXPIRED


def test_a_group_schedule_run_after_a_session_moves_re_dates_only_the_tasks_not_yet_started(cast):
    first = datetime.datetime(2026, 5, 5, 10, 0, tzinfo=selectors.practice_tz())
    course = _group("Course", first.date())
    Enrolment.objects.create(group=course, patient=cast.alice, status=Enrolment.Status.ENROLLED)
    _dosing(course, 1, first)
    last = _dosing(course, 2, first + datetime.timedelta(days=7))
    services.administrations_schedule_for_group(actor=cast.bob, group=course)
    end_of_course = CreativityAdministration.objects.filter(group=course, occasion="end_of_course")
    done = end_of_course.get(task=Task.AUT)
    CreativityAdministration.objects.filter(pk=done.pk).update(status=Status.COMPLETED)

    GroupSession.objects.filter(pk=last.pk).update(
        starts_at=last.starts_at + datetime.timedelta(days=2), ends_at=last.ends_at + datetime.timedelta(days=2)
    )
    assert services.administrations_schedule_for_group(actor=cast.bob, group=course) == 0

    waiting = end_of_course.get(task=Task.DAT)
    assert waiting.due_at == last.ends_at + datetime.timedelta(days=3)
    assert waiting.expires_at == waiting.due_at + datetime.timedelta(days=14)
    assert end_of_course.get(task=Task.AUT).due_at == done.due_at


def test_a_hand_in_over_the_limits_keeps_the_first_40_ideas_cuts_long_ones_and_says_so(cast):
    task = started_task(cast.alice)
    label = task.prompts[0]["label"]
    ideas = ["a doorstop", LONG_IDEA] + [f"use number {n}" for n in range(43)]
    outcome = services.answers_save(actor=None, administration=task, part=0, ideas=ideas, finish_part=True)
    assert outcome.saved and not outcome.closed
    assert outcome.trimmed == (
        f"45 ideas were handed in for {label}; the first 40 are kept, the most one object takes.",
        f"Idea 2 was longer than 500 characters for {label}; the first 500 characters are kept.",
    )
    rows = list(task.responses.order_by("order"))
    assert len(rows) == 40 and rows[-1].text == "use number 37"
    assert len(rows[1].text) == 500 and rows[1].cut_to_limit and not rows[0].cut_to_limit
    task.refresh_from_db()
    assert [n["text"] for n in task.hand_in_notes] == list(outcome.trimmed)
    services.answers_save(actor=None, administration=task, part=1, ideas=["plant markers"], finish_part=True)
    task.refresh_from_db()
    assert task.status == Status.COMPLETED
    assert task.responses.get(order=2, prompt=task.prompts[0]["prompt"]).status == "truncated"


def test_saving_a_part_again_within_the_limits_clears_its_earlier_hand_in_note(cast):
    task = started_task(cast.alice)
    services.answers_save(actor=None, administration=task, part=0, ideas=[f"idea {n}" for n in range(41)])
    task.refresh_from_db()
    assert len(task.hand_in_notes) == 1
    outcome = services.answers_save(actor=None, administration=task, part=0, ideas=["a doorstop"])
    task.refresh_from_db()
    assert outcome.trimmed == () and task.hand_in_notes == []


def test_a_dat_hand_in_with_an_over_long_word_keeps_it_cut_and_scores_the_rest(cast):
    task = started_task(cast.alice, Task.DAT)
    words = ["volcano", "spoon", "justice", "q" * 60, "microbe", "saxophone", "glacier", "passport"]
    outcome = services.answers_save(actor=None, administration=task, part=0, words=words, finish_part=True)
    assert outcome.closed and outcome.trimmed == ("Word 4 was longer than 40 characters; the first 40 are kept.",)
    task.refresh_from_db()
    assert task.dat_words[3] == "q" * 40 and task.dat_score is not None
