"""Demo creativity results: a baseline and an end-of-course AUT and DAT for every demo patient, a day after
their questionnaires of the same occasion (moved off any dosing day), and tasks waiting in the portal.

For the many, the scores are synthetic numbers stored directly (bulk, no model run), invented to look
plausible: they come from no study. The portal patients' results are made the real way instead, through
the services and the offline scorer, from a small bank of made-up ideas and words, so their response tables
show real model scores.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from django.utils import timezone

from kapstone.creativity import dat as dat_scoring
from kapstone.creativity import protocol, selectors, services
from kapstone.creativity.models import CreativityAdministration, Occasion, Task

BATCH = 4000
REAL_SCORED = 4  # the portal patients (practice.demo.PORTAL_PATIENTS)
OCCASIONS = (Occasion.BASELINE, Occasion.END_OF_COURSE)

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


def _synthetic(rng, patient_id: int, task: str, occasion: str, when: datetime.datetime, base: dict):
    """A scored administration with invented numbers; `base` carries the patient's baseline level."""
    improving = occasion == Occasion.END_OF_COURSE
    if task == Task.AUT:
        form = protocol.form_for(patient_id=patient_id, occasion=occasion)
        top2 = min(4.8, max(1.2, base["top2"] + (rng.gauss(0.15, 0.35) if improving else 0)))
        fluency = max(1.0, round(base["fluency"] + (rng.gauss(0.5, 1.5) if improving else 0), 1))
        fields = dict(
            form_id=form.id,
            forms_version=protocol.aut_forms()["version"],
            prompts=[{"prompt": o.prompt, "label": o.label} for o in form.objects],
            fluency=fluency,
            flexibility=round(max(1.0, fluency * rng.uniform(0.5, 0.8)), 1),
            originality_top2=round(top2, 3),
            originality_mean=round(max(1.0, top2 - rng.uniform(0.3, 0.8)), 3),
            elaboration_mean=round(max(0.0, rng.gauss(1.6, 0.6)), 3),
        )
    else:
        score = round(base["dat"] + (rng.gauss(0.8, 2.0) if improving else 0), 2)
        fields = dict(
            form_id="dat",
            forms_version=protocol.administration_settings()["version"],
            dat_score=score,
            dat_percentile=dat_scoring.percentile_vs_random_nouns(score),
        )
    seconds = protocol.part_seconds(task) * (len(fields.get("prompts", [])) or 1)
    return CreativityAdministration(
        patient_id=patient_id,
        task=task,
        occasion=occasion,
        seconds_per_part=protocol.part_seconds(task),
        due_at=when,
        expires_at=when + datetime.timedelta(days=7),
        status=CreativityAdministration.Status.COMPLETED,
        started_at=when,
        deadline=when + datetime.timedelta(seconds=seconds),
        submitted_at=when + datetime.timedelta(seconds=seconds),
        scored_at=when + datetime.timedelta(seconds=seconds),
        **fields,
    )


def _real(rng, patient, occasion: str, when: datetime.datetime) -> None:
    """Both tasks taken through the services at `when`, scored by the real scorer."""
    for task in services.administrations_schedule(actor=None, patient=patient, occasion=occasion, due_at=when):
        task = services.administration_start(actor=None, administration=task, now=when)
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


def _occasion_dates(patient_ids) -> dict[tuple[int, str], datetime.datetime]:
    """The day after each patient's questionnaires of the same occasion, when the measures demo made them."""
    from kapstone.measures.models import Assessment

    rows = Assessment.objects.filter(occasion__in=OCCASIONS, completed_at__isnull=False).values_list(
        "patient_id", "occasion", "completed_at"
    )
    wanted = set(patient_ids)
    return {(p, o): at + datetime.timedelta(days=1) for p, o, at in rows.iterator(chunk_size=5000) if p in wanted}


def seed(*, practice, rng, progress: Callable[[str], None]) -> None:
    now = timezone.now()
    patients = practice.patients
    ids = [p.pk for p in patients]
    dates = _occasion_dates(ids)
    dosing = selectors.dosing_sessions_of(ids)
    tz = selectors.practice_tz()
    rows: list[CreativityAdministration] = []
    for index, patient in enumerate(patients):
        end = now - datetime.timedelta(days=rng.randint(21, 540))
        planned = {
            Occasion.BASELINE: dates.get((patient.pk, Occasion.BASELINE), end - datetime.timedelta(weeks=8)),
            Occasion.END_OF_COURSE: dates.get((patient.pk, Occasion.END_OF_COURSE), end),
        }
        when = {o: protocol.first_clear_time(dosing.get(patient.pk, []), at=at, tz=tz) for o, at in planned.items()}
        if index < REAL_SCORED:
            for occasion in OCCASIONS:
                _real(rng, patient, occasion, min(when[occasion], now - datetime.timedelta(hours=1)))
            continue
        base = {"top2": rng.gauss(2.7, 0.45), "fluency": rng.gauss(6.5, 2.2), "dat": rng.gauss(71.0, 3.0)}
        for occasion in OCCASIONS:
            for task in (Task.AUT, Task.DAT):
                rows.append(_synthetic(rng, patient.pk, task, occasion, when[occasion], base))
        if len(rows) >= BATCH:
            CreativityAdministration.objects.bulk_create(rows)
            rows = []
            progress(f"creativity results for {index + 1}/{len(patients)} patients")
    CreativityAdministration.objects.bulk_create(rows)

    # Follow-up tasks waiting in the portal patients' portals (not scheduled on a dosing day: the portal
    # patient dosing today sees "come back tomorrow" instead).
    waiting = 0
    for patient in patients[:REAL_SCORED]:
        try:
            waiting += len(
                services.administrations_schedule(actor=None, patient=patient, occasion=Occasion.FOLLOW_UP_1M)
            )
        except services.DosingDay:
            continue
    progress(f"creativity: {CreativityAdministration.objects.count()} tasks stored, {waiting} waiting in portals")
