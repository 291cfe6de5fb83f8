"""Demo creativity tasks, dated from each patient's own course and linked to its group as the scheduler links them.

Every member of a demo course gets the AUT and the DAT on each occasion of the protocol's schedule
(administration.yaml, the one services.administrations_schedule_for_group reads): baseline, end of course and
the follow-ups, dated from the group's own sessions and moved off dosing days by the same rule
(protocol.first_clear_time), each row carrying the group, occasion and form the scheduler gives it. Tasks due
after now are left due; past ones were taken in their window, never on a dosing day, or now and then missed.

For the many, the scores are synthetic numbers stored directly (bulk, no model run), invented to look
plausible, as are the answer rates: they come from no study. The portal patients' tasks are taken the real way
instead, through the services and the offline scorer, from a small bank of made-up ideas and words, so their
response tables show real model scores.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from django.utils import timezone

from kapstone.creativity import dat as dat_scoring
from kapstone.creativity import protocol, selectors, services
from kapstone.creativity.models import CreativityAdministration, Occasion, Task
from kapstone.program.demo import DemoCourse, demo_courses

SEEDS_AFTER = ("kapstone.program",)
BATCH = 5000
REAL_SCORED = 4  # the portal patients (home.demo.PORTAL_PATIENTS)
# Synthetic share of each occasion's tasks that were taken in their window; others get DEFAULT_TAKEN.
TAKEN = {
    Occasion.BASELINE: 0.96,
    Occasion.END_OF_COURSE: 0.88,
    Occasion.FOLLOW_UP_1M: 0.74,
    Occasion.FOLLOW_UP_3M: 0.64,
    Occasion.FOLLOW_UP_6M: 0.55,
}
DEFAULT_TAKEN = 0.8

IDEAS = {
    "brick": [
        "doorstop",
        "paperweight",
        "grind it to red pigment for paint",
        "heat it to warm a bed",
        "a tiny stage for a toy theatre",
    ],
    "pencil": ["write a letter", "stir paint", "a chopstick", "roll out dough for tiny cookies", "prop open a window"],
    "box": ["store old photos", "a cat bed", "a puppet theatre", "cut out a pinhole camera", "drum"],
    "bottle": [
        "a vase",
        "rolling pin",
        "message in a bottle",
        "a bird feeder hung from a tree",
        "a lamp with fairy lights",
    ],
    "paperclip": [
        "hold papers",
        "reset a router",
        "unlock a small lock",
        "a fishing hook",
        "a tiny sculpture of a horse",
    ],
    "shoe": ["a plant pot", "hammer a nail", "a doorstop", "a mouse house", "keep coins in the toe"],
    "table": ["eat dinner", "a fort under a blanket", "a stage for dancing", "firewood", "flip it as a raft"],
    "fork": ["comb hair", "a bookmark", "bend it into a bracelet", "draw lines in clay", "a phone stand"],
    "book": ["read it", "press flowers", "hide a key inside", "level a wobbly table", "fold the pages into a hedgehog"],
    "tire": ["a swing", "a garden bed", "an ottoman with a cushion on top", "a target for throwing balls", "a dog toy"],
}
WORDS = [
    ["cat", "volcano", "justice", "spoon", "ocean", "violin", "tax", "cloud", "ladder", "fever"],
    ["tree", "algebra", "sandwich", "mercy", "rocket", "glove", "swamp", "opera", "magnet", "debt"],
]


def _scheduled(
    *, patient_id: int, task: str, occasion: str, due_at: datetime.datetime, window_days: int, group_id: int
) -> CreativityAdministration:
    """A task as administrations_schedule_for_group stores it: its form, prompts, clock length and window."""
    if task == Task.AUT:
        form = protocol.form_for(patient_id=patient_id, occasion=occasion)
        form_id, prompts = form.id, [{"prompt": o.prompt, "label": o.label} for o in form.objects]
        version = protocol.aut_forms()["version"]
    else:
        form_id, prompts, version = "dat", [], protocol.administration_settings()["version"]
    return CreativityAdministration(
        patient_id=patient_id,
        group_id=group_id,
        task=task,
        occasion=occasion,
        form_id=form_id,
        forms_version=version,
        prompts=prompts,
        seconds_per_part=protocol.part_seconds(task),
        due_at=due_at,
        expires_at=due_at + datetime.timedelta(days=window_days),
    )


def _synthetic(rng, administration: CreativityAdministration, when: datetime.datetime, base: dict) -> None:
    """Marks a task taken at `when` with invented scores; `base` carries the patient's baseline level."""
    improving = administration.occasion != Occasion.BASELINE
    if administration.task == Task.AUT:
        top2 = min(4.8, max(1.2, base["top2"] + (rng.gauss(0.15, 0.35) if improving else 0)))
        fluency = max(1.0, round(base["fluency"] + (rng.gauss(0.5, 1.5) if improving else 0), 1))
        administration.fluency = fluency
        administration.flexibility = round(max(1.0, fluency * rng.uniform(0.5, 0.8)), 1)
        administration.originality_top2 = round(top2, 3)
        administration.originality_mean = round(max(1.0, top2 - rng.uniform(0.3, 0.8)), 3)
        administration.elaboration_mean = round(max(0.0, rng.gauss(1.6, 0.6)), 3)
    else:
        score = round(base["dat"] + (rng.gauss(0.8, 2.0) if improving else 0), 2)
        administration.dat_score = score
        administration.dat_percentile = dat_scoring.percentile_vs_random_nouns(score)
    finished = when + datetime.timedelta(seconds=administration.total_seconds)
    administration.status = CreativityAdministration.Status.COMPLETED
    administration.started_at = when
    administration.deadline = administration.submitted_at = administration.scored_at = finished


def _real(rng, administration: CreativityAdministration, when: datetime.datetime) -> None:
    """The task taken through the services at `when`, scored by the real scorer."""
    task = services.administration_start(actor=None, administration=administration, now=when)
    if task.task == Task.AUT:
        for part, item in enumerate(task.prompts):
            ideas = rng.sample(IDEAS[item["prompt"]], rng.randint(2, 5))
            task = services.answers_save(
                actor=None, administration=task, part=part, ideas=ideas, finish_part=True, now=when
            ).administration
    else:
        services.answers_save(
            actor=None, administration=task, part=0, words=rng.choice(WORDS), finish_part=True, now=when
        )


def _course_tasks(rng, course: DemoCourse, dosing: dict, now, real_ids: set, real: list) -> list:
    """Every task of the course's members; those to take the real way are added to `real` with their time."""
    settings = protocol.administration_settings()
    tz = selectors.practice_tz()
    anchors = {"course_start": min(course.session_starts), "course_end": course.course_end}
    rows = []
    for patient_id in course.patient_ids:
        sessions = dosing.get(patient_id, [])
        base = {"top2": rng.gauss(2.7, 0.45), "fluency": rng.gauss(6.5, 2.2), "dat": rng.gauss(71.0, 3.0)}
        for occasion in settings["schedule"]["occasions"]:
            planned = anchors[occasion["anchor"]] + datetime.timedelta(days=occasion["offset_days"])
            due_at = protocol.first_clear_time(sessions, at=planned, tz=tz)
            tasks = [
                _scheduled(
                    patient_id=patient_id,
                    task=task,
                    occasion=occasion["id"],
                    due_at=due_at,
                    window_days=occasion["window_days"],
                    group_id=course.group_id,
                )
                for task in (Task.AUT, Task.DAT)
            ]
            rows += tasks
            if due_at > now:
                continue
            closes = min(tasks[0].expires_at, now - datetime.timedelta(hours=1))
            when = protocol.first_clear_time(sessions, at=due_at + (closes - due_at) * rng.uniform(0.05, 0.8), tz=tz)
            taken = due_at < when < closes and rng.random() < TAKEN.get(occasion["id"], DEFAULT_TAKEN)
            for task in tasks:
                if taken and patient_id in real_ids:
                    real.append((task, when))
                elif taken:
                    _synthetic(rng, task, when, base)
                elif task.expires_at <= now:
                    task.status = CreativityAdministration.Status.EXPIRED
    return rows


def seed(*, practice, rng, progress: Callable[[str], None]) -> None:
    now = timezone.now()
    courses = demo_courses()
    dosing = selectors.dosing_sessions_of([p for course in courses for p in course.patient_ids])
    real_ids = {patient.pk for patient in practice.patients[:REAL_SCORED]}
    rows: list[CreativityAdministration] = []
    real: list[tuple[CreativityAdministration, datetime.datetime]] = []
    for number, course in enumerate(courses, start=1):
        rows += _course_tasks(rng, course, dosing, now, real_ids, real)
        if len(rows) >= BATCH:
            CreativityAdministration.objects.bulk_create(rows)
            rows = []
            progress(f"creativity tasks for {number}/{len(courses)} courses")
    CreativityAdministration.objects.bulk_create(rows)
    for administration, when in real:
        _real(rng, administration, when)
    waiting = CreativityAdministration.objects.filter(
        status=CreativityAdministration.Status.DUE, due_at__lte=now, expires_at__gt=now
    ).count()
    progress(f"creativity: {CreativityAdministration.objects.count()} tasks stored, {waiting} open now")
