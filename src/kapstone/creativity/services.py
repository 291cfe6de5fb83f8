"""Writes for the creativity tasks. Each is atomic and writes its audit row in the same transaction.

The clock is the server's: a task starts when the patient presses Start, each part (AUT object, or the DAT)
has a deadline, answers arriving after a part's deadline (plus a short grace for a save in flight) are not
stored, and once the last deadline passes the task closes and what was saved is scored.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from statistics import mean

from django.db import transaction
from django.utils import formats, timezone

from kapstone.accounts.models import User
from kapstone.audit import services as audit
from kapstone.creativity import dat as dat_scoring
from kapstone.creativity import protocol, scoring
from kapstone.creativity import selectors as reads
from kapstone.creativity.models import AUTResponse, CreativityAdministration, Occasion, Task
from kapstone.patients.models import Patient
from kapstone.program.models import Enrolment, Group, GroupSession

Status = CreativityAdministration.Status


class CreativityError(Exception):
    """A request the rules refuse; the message is written for the person who made it."""


class DosingDay(CreativityError):
    """A time on a dosing day (or within a day of a dosing session): [ketamine-acute-cognition]: acute ketamine
    impairs attention and memory for hours, resolved by 24 h, so no task is given on a dosing day."""

    def __init__(self, until: datetime.datetime):
        self.until = until
        local = timezone.localtime(until, reads.practice_tz())
        when = formats.date_format(local, "l j F") + " from " + formats.time_format(local, "H:i")
        self.for_staff = (
            f"Not scheduled: the patient has a ketamine dosing session on that day, and acute ketamine impairs "
            f"attention and memory for up to 24 hours, so creativity tasks are never given on a dosing day. "
            f"The earliest time is {when}."
        )
        super().__init__(
            f"Not today: there is a ketamine session on this day. Ketamine affects attention and memory for up to "
            f"a day, which would change the result, so these tasks are never given on a dosing day. Please come "
            f"back tomorrow ({when})."
        )


class NotOpen(CreativityError):
    pass


# --- scheduling ---------------------------------------------------------------------------------------------


def _new_administration(
    *, patient_id: int, task: str, occasion: str, due_at: datetime.datetime, window_days: int, **extra: object
) -> CreativityAdministration:
    if task == Task.AUT:
        form = protocol.form_for(patient_id=patient_id, occasion=occasion)
        form_id, prompts = form.id, [{"prompt": o.prompt, "label": o.label} for o in form.objects]
        version = protocol.aut_forms()["version"]
    else:
        form_id, prompts, version = "dat", [], protocol.administration_settings()["version"]
    return CreativityAdministration(
        patient_id=patient_id,
        task=task,
        occasion=occasion,
        form_id=form_id,
        forms_version=version,
        prompts=prompts,
        seconds_per_part=protocol.part_seconds(task),
        due_at=due_at,
        expires_at=due_at + datetime.timedelta(days=window_days),
        **extra,
    )


def _audit_update(administration: CreativityAdministration, *, actor: User | None, detail: dict[str, object]) -> None:
    """An audited change to one patient's task; with actor None the trail takes it from the request or command."""
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        patient_id=administration.patient_id,
        object_type="creativity_administration",
        object_id=administration.pk,
        detail=detail,
    )


@transaction.atomic
def administrations_schedule(
    *,
    actor: User | None,
    patient: Patient,
    occasion: str,
    tasks: tuple[str, ...] = (Task.AUT, Task.DAT),
    due_at: datetime.datetime | None = None,
) -> list[CreativityAdministration]:
    """Puts tasks due for one patient (from now unless `due_at`), refusing a time that falls on a dosing day."""
    if occasion not in Occasion.values:
        raise CreativityError(f"Unknown occasion {occasion!r}.")
    due_at = due_at or timezone.now()
    until = reads.dosing_block_until(patient=patient, at=due_at)
    if until is not None:
        raise DosingDay(until)
    window = protocol.administration_settings()["schedule"]["unscheduled_window_days"]
    created = [
        _new_administration(
            patient_id=patient.pk, task=task, occasion=occasion, due_at=due_at, window_days=window, scheduled_by=actor
        )
        for task in tasks
    ]
    for administration in created:
        administration.save()
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        patient=patient,
        object_type="creativity_administration",
        object_id=",".join(str(a.pk) for a in created),
        detail={"occasion": occasion, "tasks": list(tasks), "due_at": due_at, "forms": [a.form_id for a in created]},
    )
    return created


@transaction.atomic
def administrations_schedule_for_group(*, actor: User | None, group: Group) -> int:
    """Both tasks at baseline, end of course and each follow-up for every enrolled patient, dated from the
    group's sessions and moved off dosing days; returns how many it added. Running it again adds only what is
    missing and re-checks every task of these patients not yet started: one of this course whose date has
    changed with its sessions is re-dated, and any other that a dosing session now blocks is moved to the first
    clear time. Started, finished and missed tasks keep their dates."""
    sessions = list(GroupSession.objects.filter(group=group).values_list("starts_at", "ends_at"))
    if not sessions:
        return 0
    # The group has sessions, so the course has an end; the last session's end stands in only for mypy.
    course_end = GroupSession.objects.filter(group=group).course_end() or max(end for _, end in sessions)
    anchors = {"course_start": min(start for start, _ in sessions), "course_end": course_end}
    patient_ids = list(
        Enrolment.objects.filter(group=group, status=Enrolment.Status.ENROLLED).values_list("patient_id", flat=True)
    )
    dosing = reads.dosing_sessions_of(patient_ids)
    existing = set(CreativityAdministration.objects.filter(group=group).values_list("patient_id", "occasion", "task"))
    # Locked, so a patient pressing Start at this moment starts first and their task is then left alone.
    not_started = list(
        CreativityAdministration.objects.select_for_update().filter(patient_id__in=patient_ids, status=Status.DUE)
    )
    of_this_course = {(a.patient_id, a.occasion, a.task): a for a in not_started if a.group_id == group.pk}
    tz = reads.practice_tz()
    new, redated = [], []
    for occasion in protocol.administration_settings()["schedule"]["occasions"]:
        # Days on the practice's wall clock, so a daylight-saving change between does not move the time of day.
        planned = anchors[occasion["anchor"]].astimezone(tz) + datetime.timedelta(days=occasion["offset_days"])
        for patient_id in patient_ids:
            due_at = protocol.first_clear_time(dosing.get(patient_id, []), at=planned, tz=tz)
            for task in (Task.AUT, Task.DAT):
                waiting = of_this_course.get((patient_id, occasion["id"], task))
                if waiting is not None:
                    expires_at = due_at + datetime.timedelta(days=occasion["window_days"])
                    redated.append((waiting, due_at, expires_at, "the group's sessions moved"))
                if (patient_id, occasion["id"], task) in existing:
                    continue
                new.append(
                    _new_administration(
                        patient_id=patient_id,
                        task=task,
                        occasion=occasion["id"],
                        due_at=due_at,
                        window_days=occasion["window_days"],
                        group=group,
                        scheduled_by=actor,
                    )
                )
    for other in not_started:
        if other.group_id != group.pk:
            # Not dated from this course's sessions: only the dosing-day rule applies, keeping its window's length.
            due_at = protocol.first_clear_time(dosing.get(other.patient_id, []), at=other.due_at, tz=tz)
            expires_at = other.expires_at + (due_at - other.due_at)
            redated.append((other, due_at, expires_at, "a dosing session now falls on its day"))
    changed = 0
    for administration, due_at, expires_at, reason in redated:
        if (administration.due_at, administration.expires_at) == (due_at, expires_at):
            continue
        before = {"due_at": administration.due_at, "expires_at": administration.expires_at}
        administration.due_at, administration.expires_at = due_at, expires_at
        administration.save(update_fields=["due_at", "expires_at", "updated_at"])
        _audit_update(
            administration,
            actor=actor,
            detail={
                "rescheduled": reason,
                "group_id": group.pk,
                "occasion": administration.occasion,
                "task": administration.task,
                "before": before,
                "after": {"due_at": due_at, "expires_at": expires_at},
            },
        )
        changed += 1
    CreativityAdministration.objects.bulk_create(new)
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        object_type="creativity_schedule",
        object_id=group.pk,
        detail={"created": len(new), "redated": changed, "patients": len(patient_ids)},
    )
    return len(new)


# --- taking a task ------------------------------------------------------------------------------------------


def _locked(administration: CreativityAdministration) -> CreativityAdministration:
    return CreativityAdministration.objects.select_for_update().get(pk=administration.pk)


def _started_deadline(administration: CreativityAdministration) -> datetime.datetime:
    """The current part's deadline of a started task (a task not started has no clock)."""
    if administration.part_deadline is None:
        raise CreativityError("This task has not been started.")
    return administration.part_deadline


def _set_clock(administration: CreativityAdministration, part: int, part_deadline: datetime.datetime) -> None:
    administration.part, administration.part_deadline = part, part_deadline
    administration.deadline = protocol.Clock(part, part_deadline, False).final_deadline(
        parts=administration.parts, seconds=administration.seconds_per_part
    )


@transaction.atomic
def administration_start(
    *, actor: User | None, administration: CreativityAdministration, now: datetime.datetime | None = None
) -> CreativityAdministration:
    """Starts the clock, or carries on a task already started (resuming within its time limit)."""
    now = now or timezone.now()
    administration = _locked(administration)
    if administration.status == Status.IN_PROGRESS:
        return administration
    if administration.status != Status.DUE:
        raise NotOpen("This task is closed.")
    if now < administration.due_at:
        raise NotOpen("This task is not open yet.")
    if now >= administration.expires_at:
        raise NotOpen("This task's window has closed; your care team can schedule another.")
    until = reads.dosing_block_until(patient=administration.patient, at=now)
    if until is not None:
        raise DosingDay(until)
    administration.status, administration.started_at = Status.IN_PROGRESS, now
    _set_clock(administration, 0, now + datetime.timedelta(seconds=administration.seconds_per_part))
    administration.save(update_fields=["status", "started_at", "part", "part_deadline", "deadline", "updated_at"])
    _audit_update(administration, actor=actor, detail={"started": now, "deadline": administration.deadline})
    return administration


@dataclass(frozen=True)
class SaveOutcome:
    saved: bool  # the answers were in time and are stored
    closed: bool  # the task is over (finished or out of time) and scored
    administration: CreativityAdministration
    trimmed: tuple[str, ...] = ()  # what the input limits took off the stored answers, in the patient's words


def _part_deadline(administration: CreativityAdministration, part: int) -> datetime.datetime | None:
    """The deadline of `part` on the wall-clock schedule; None for a part already left behind."""
    if part < administration.part:
        return None
    return _started_deadline(administration) + datetime.timedelta(
        seconds=administration.seconds_per_part * (part - administration.part)
    )


def _numbered(kind: str, numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"{kind.capitalize()} {numbers[0]} was"
    return f"{kind.capitalize()}s {', '.join(map(str, numbers[:-1]))} and {numbers[-1]} were"


def _ideas_within_limits(ideas: list[str], *, label: str) -> tuple[list[str], set[int], list[str]]:
    """The ideas as stored: the first ones up to the limit, each cut to the longest allowed, with the orders
    that were cut and what was done, so a hand-in keeps what fits rather than failing at the deadline."""
    limits = protocol.administration_settings()["aut"]
    most, longest = limits["max_responses_per_object"], limits["max_chars_per_response"]
    notes = []
    if len(ideas) > most:
        notes.append(
            f"{len(ideas)} ideas were handed in for {label}; the first {most} are kept, the most one object takes."
        )
    kept = ideas[:most]
    cut = {order for order, idea in enumerate(kept, start=1) if len(idea) > longest}
    if cut:
        notes.append(
            f"{_numbered('idea', sorted(cut))} longer than {longest} characters for {label}; "
            f"the first {longest} characters are kept."
        )
    return [idea[:longest] for idea in kept], cut, notes


def _words_within_limits(words: list[str]) -> tuple[list[str], list[str]]:
    longest = protocol.administration_settings()["dat"]["max_chars_per_word"]
    cut = [number for number, word in enumerate(words, start=1) if len(word) > longest]
    notes = [f"{_numbered('word', cut)} longer than {longest} characters; the first {longest} are kept."] if cut else []
    return [word[:longest] for word in words], notes


def _store_ideas(administration: CreativityAdministration, part: int, ideas: list[str], cut: set[int]) -> None:
    prompt = administration.prompts[part]["prompt"]
    administration.responses.filter(prompt=prompt).delete()
    AUTResponse.objects.bulk_create(
        AUTResponse(administration=administration, prompt=prompt, order=order, text=text, cut_to_limit=order in cut)
        for order, text in enumerate(ideas, start=1)
    )


def _store_answers(
    administration: CreativityAdministration, part: int, *, ideas: list[str] | None, words: list[str] | None
) -> list[str]:
    """Stores one part's answers within the input limits; returns what the limits took off."""
    if administration.task == Task.AUT:
        label = administration.prompts[part]["label"]
        ideas, cut, notes = _ideas_within_limits(list(ideas or []), label=label)
        _store_ideas(administration, part, ideas, cut)
    else:
        administration.dat_words, notes = _words_within_limits(list(words or []))
    administration.hand_in_notes = [n for n in administration.hand_in_notes if n["part"] != part] + [
        {"part": part, "text": note} for note in notes
    ]
    return notes


@transaction.atomic
def answers_save(
    *,
    actor: User | None,
    administration: CreativityAdministration,
    part: int,
    ideas: list[str] | None = None,
    words: list[str] | None = None,
    finish_part: bool = False,
    now: datetime.datetime | None = None,
) -> SaveOutcome:
    """Stores the answers for one part if its time is not over; `finish_part` moves on to the next part at
    once (or, on the last, hands the task in). A task whose time has run out is closed and scored. Answers
    beyond the input limits (administration.yaml) are trimmed to them, never refused: the outcome says what
    was trimmed, and so does the administration's hand_in_notes for the clinician."""
    now = now or timezone.now()
    administration = _locked(administration)
    if administration.status != Status.IN_PROGRESS:
        raise NotOpen("This task is closed: what you saved in time has been scored.")
    clock = reads.administration_clock(administration=administration, now=now)
    deadline = _part_deadline(administration, part)
    saved = (
        0 <= part <= clock.part and deadline is not None and protocol.accepts_answers(part_deadline=deadline, now=now)
    )
    trimmed = _store_answers(administration, part, ideas=ideas, words=words) if saved else []
    closed = clock.closed
    part_now, deadline_now = clock.part, clock.part_deadline
    if finish_part and not closed and part == clock.part:
        if clock.part == administration.parts - 1:
            closed = True
        else:
            part_now, deadline_now = part + 1, now + datetime.timedelta(seconds=administration.seconds_per_part)
    _set_clock(administration, part_now, deadline_now)
    if closed:
        _close(administration, now=now, by_timer=clock.closed)
    else:
        administration.save(
            update_fields=["part", "part_deadline", "deadline", "dat_words", "hand_in_notes", "updated_at"]
        )
    _audit_update(
        administration,
        actor=actor,
        detail={"part": part, "saved": saved, "finished_part": finish_part, "closed": closed, "trimmed": trimmed},
    )
    return SaveOutcome(saved=saved, closed=closed, administration=administration, trimmed=tuple(trimmed))


@transaction.atomic
def administration_close_if_over(
    *, actor: User | None, administration: CreativityAdministration, now: datetime.datetime | None = None
) -> bool:
    """Closes and scores a started task whose last deadline has passed (the patient came back too late)."""
    now = now or timezone.now()
    administration = _locked(administration)
    if (
        administration.status != Status.IN_PROGRESS
        or not reads.administration_clock(administration=administration, now=now).closed
    ):
        return False
    _close(administration, now=now, by_timer=True)
    _audit_update(administration, actor=actor, detail={"closed": True, "by_timer": True})
    return True


@transaction.atomic
def administrations_close_overdue(*, patient: Patient | None = None, now: datetime.datetime | None = None) -> int:
    """Closes and scores started tasks whose time is over (and the grace with it), and marks tasks never
    started within their window as not done. Idempotent: the Celery beat sweep and the portal both call it."""
    now = now or timezone.now()
    overdue = CreativityAdministration.objects.select_for_update().filter(
        status=Status.IN_PROGRESS, deadline__lt=now - protocol.grace()
    )
    lapsed = CreativityAdministration.objects.filter(status=Status.DUE, expires_at__lte=now)
    if patient is not None:
        overdue, lapsed = overdue.filter(patient=patient), lapsed.filter(patient=patient)
    closed = 0
    for administration in overdue:
        _close(administration, now=now, by_timer=True)
        closed += 1
        _audit_update(administration, actor=None, detail={"closed": True, "by_timer": True})
    lapsed_ids = list(lapsed.values_list("pk", flat=True))
    if lapsed_ids:
        CreativityAdministration.objects.filter(pk__in=lapsed_ids).update(status=Status.EXPIRED, updated_at=now)
        audit.record(
            action=audit.Action.UPDATE,
            object_type="creativity_administration_expiry",
            detail={"expired_ids": lapsed_ids},
        )
    return closed


# --- scoring ------------------------------------------------------------------------------------------------


def _mean_of(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(mean(present), 3) if present else None


def _score_aut(administration: CreativityAdministration) -> None:
    rows = list(administration.responses.order_by("order"))
    summaries = []
    for item in administration.prompts:
        prompt = item["prompt"]
        mine = [r for r in rows if r.prompt == prompt]
        seen: set[str] = set()
        for row, scored in zip(mine, scoring.score_responses([(prompt, r.text) for r in mine]), strict=True):
            row.status, row.originality, row.elaboration = scored.status, scored.originality, scored.elaboration
            if row.cut_to_limit and scored.status == scoring.OK:
                row.status = scoring.TRUNCATED
            if scored.originality is not None:
                key = scoring.normalise_for_duplicates(row.text)
                if not key or key in seen:
                    row.status = AUTResponse.DUPLICATE
                seen.add(key)
        summaries.append(asdict(scoring.summarise_participant(prompt, [r.text for r in mine])))
    AUTResponse.objects.bulk_update(rows, ["status", "originality", "elaboration"])
    administration.object_summaries = summaries
    administration.fluency = _mean_of(s["fluency"] for s in summaries)
    administration.flexibility = _mean_of(s["flexibility"] for s in summaries)
    administration.originality_mean = _mean_of(s["originality_mean"] for s in summaries)
    administration.originality_top2 = _mean_of(s["originality_top2_mean"] for s in summaries)
    administration.elaboration_mean = _mean_of(s["elaboration_mean"] for s in summaries)


def _score_dat(administration: CreativityAdministration) -> None:
    result = dat_scoring.score_dat([w for w in administration.dat_words if str(w).strip()])
    administration.dat_result = result
    administration.dat_score = result["score"]
    administration.dat_percentile = result["percentile_vs_random_nouns"]


def _close(administration: CreativityAdministration, *, now: datetime.datetime, by_timer: bool) -> None:
    """Hands the task in and scores it; the caller holds the row lock and writes the audit row."""
    administration.status = Status.COMPLETED
    administration.submitted_at = min(now, administration.deadline or now)
    administration.closed_by_timer = by_timer
    if administration.task == Task.AUT:
        _score_aut(administration)
    else:
        _score_dat(administration)
    administration.scored_at = timezone.now()
    administration.save()
