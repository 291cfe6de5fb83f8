"""Reads of creativity tasks. Staff reach a patient only through patients.selectors.patient_get (care-team
filter, 404 otherwise, audited); patients reach only their own record."""

from __future__ import annotations

import datetime
import zoneinfo
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from kapstone.accounts.models import User
from kapstone.audit import services as audit
from kapstone.compiled_once import compiled_once
from kapstone.creativity import protocol
from kapstone.creativity.models import AUTResponse, CreativityAdministration
from kapstone.measures.dates import is_plausible, latest_result_date
from kapstone.measures.models import Assessment
from kapstone.patients.models import Patient
from kapstone.patients.selectors import patient_get
from kapstone.program.models import Enrolment, GroupSession

Status = CreativityAdministration.Status
ADMINISTRATIONS_ON_PAGE = 200
# A task's scores, as the clinician's page and the outcomes analysis both read them.
SCORES = (
    "fluency",
    "flexibility",
    "originality_mean",
    "originality_top2",
    "elaboration_mean",
    "dat_score",
    "dat_percentile",
)
# What the clinician's page shows of each task (creativity.page_rows) and charts (creativity.charts). The others (the
# words and notes stored as JSON, the timer's and the scheduling's columns) were a quarter of reading the tasks.
PAGE_COLUMNS = (
    "task",
    "occasion",
    "form_id",
    "prompts",
    "due_at",
    "status",
    "submitted_at",
    "closed_by_timer",
    *SCORES,
)


def practice_tz() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


# --- dosing days --------------------------------------------------------------------------------------------


def dosing_sessions_of(patient_ids: Iterable[int]) -> dict[int, list[tuple[datetime.datetime, datetime.datetime]]]:
    """(starts_at, ends_at) of every dosing session of a course each patient is or was enrolled in."""
    rows = (
        GroupSession.objects.filter(
            kind=GroupSession.Kind.DOSING,
            group__enrolments__patient_id__in=list(patient_ids),
            group__enrolments__status__in=(Enrolment.Status.ENROLLED, Enrolment.Status.COMPLETED),
        )
        .order_by()
        .values_list("group__enrolments__patient_id", "starts_at", "ends_at")
    )
    sessions: dict[int, list[tuple[datetime.datetime, datetime.datetime]]] = defaultdict(list)
    for patient_id, starts_at, ends_at in rows:
        sessions[patient_id].append((starts_at, ends_at))
    return sessions


def dosing_block_until(*, patient: Patient, at: datetime.datetime | None = None) -> datetime.datetime | None:
    """When the patient may next take a task, if a dosing session blocks `at` (default now); else None."""
    at = at or timezone.now()
    return protocol.dosing_block_until(dosing_sessions_of([patient.pk])[patient.pk], at=at, tz=practice_tz())


# --- the patient's own tasks --------------------------------------------------------------------------------


def portal_tasks(*, patient: Patient, now: datetime.datetime | None = None) -> list[CreativityAdministration]:
    """Tasks the patient can do now: due and still in their window, or started and still on the clock."""
    tasks = list(_doable_now(patient, now or timezone.now()).order_by("due_at", "task", "pk"))
    audit.record(
        action=audit.Action.READ,
        patient=patient,
        object_type="creativity_tasks",
        detail={"administration_ids": [t.pk for t in tasks]},
    )
    return tasks


def portal_tasks_waiting(*, patient: Patient, now: datetime.datetime | None = None) -> int:
    """How many of portal_tasks there are, for the portal home, which says so beside its link: a link that read
    "Word games to do" led as often to a page with none. A count, not the tasks: the home's own read is audited."""
    return _doable_now(patient, now or timezone.now()).count()


def _doable_now(patient: Patient, now: datetime.datetime) -> QuerySet[CreativityAdministration]:
    """The patient's tasks due and still in their window, or started and still on the clock."""
    return CreativityAdministration.objects.filter(patient=patient, due_at__lte=now).filter(
        Q(status=Status.DUE, expires_at__gt=now) | Q(status=Status.IN_PROGRESS, deadline__gt=now)
    )


def portal_administration(*, patient: Patient, administration_id: int | str) -> CreativityAdministration:
    try:
        return CreativityAdministration.objects.get(pk=int(administration_id), patient=patient)
    except (CreativityAdministration.DoesNotExist, ValueError, TypeError):
        raise Http404("No such task.") from None


def portal_task_shown(*, administration: CreativityAdministration) -> None:
    """Records the patient's read of their own task page: it shows the answers they have saved so far (and, before
    the start, whether a dosing day holds the task back)."""
    audit.record(
        action=audit.Action.READ,
        patient_id=administration.patient_id,
        object_type="creativity_administration",
        object_id=administration.pk,
    )


def administration_clock(*, administration: CreativityAdministration, now: datetime.datetime) -> protocol.Clock:
    """Where a started task stands at `now`: the part under way, its deadline, and whether the time is over."""
    if administration.part_deadline is None:
        raise ValueError(f"Creativity administration {administration.pk} has not been started, so it has no clock.")
    return protocol.clock_at(
        part=administration.part,
        part_deadline=administration.part_deadline,
        parts=administration.parts,
        seconds=administration.seconds_per_part,
        now=now,
    )


def saved_ideas(administration: CreativityAdministration, prompt: str) -> list[str]:
    return list(administration.responses.filter(prompt=prompt).order_by("order").values_list("text", flat=True))


def creativity_history(*, patient: Patient) -> list[CreativityAdministration]:
    """The patient's scored administrations, oldest first, for charts beside the symptom scores. The caller
    has reached the patient through patient_get or patient_for_portal_user and audited the read."""
    return list(
        CreativityAdministration.objects.filter(patient=patient, status=Status.COMPLETED)
        .defer("object_summaries", "dat_result", "prompts")
        .order_by("submitted_at", "pk")
    )


@dataclass(frozen=True)
class SymptomPoint:
    instrument_id: str
    completed_at: datetime.datetime
    total: float


@compiled_once(patient_id=int)
def _symptom_rows(*, patient_id: int) -> QuerySet[Assessment, tuple[str, datetime.datetime | None, float | None]]:
    # Compiled once (kapstone.compiled_once): the clinician's page and the patient's history read it on every view.
    return (
        Assessment.objects.filter(patient_id=patient_id, status=Assessment.Status.COMPLETED, total__isnull=False)
        .order_by("completed_at", "pk")
        .values_list("instrument_id", "completed_at", "total")
    )


def symptom_totals(*, patient: Patient) -> list[SymptomPoint]:
    """Completed questionnaire totals (measures app), read-only, oldest first, to chart beside creativity; a total
    whose stored date no chart can hold is left out (kapstone.measures.dates)."""
    latest = latest_result_date()  # today's, worked out once for every row
    return [
        SymptomPoint(instrument_id, completed_at, total)
        for instrument_id, completed_at, total in _symptom_rows(patient_id=patient.pk)
        if completed_at is not None and total is not None and is_plausible(completed_at, latest=latest)
    ]


def portal_history(*, patient: Patient) -> dict[str, object]:
    audit.record(action=audit.Action.READ, patient=patient, object_type="creativity_history", object_id=patient.pk)
    return {"history": creativity_history(patient=patient), "symptoms": symptom_totals(patient=patient)}


# --- staff --------------------------------------------------------------------------------------------------


@compiled_once(patient_id=int)
def _page_administrations(*, patient_id: int) -> QuerySet[CreativityAdministration]:
    # Compiled once (kapstone.compiled_once): compiling it took about as long as the database took to answer.
    return (
        CreativityAdministration.objects.filter(patient_id=patient_id)
        .only(*PAGE_COLUMNS)
        .order_by("-due_at", "-pk")[:ADMINISTRATIONS_ON_PAGE]
    )


def patient_creativity(*, user: User, patient_id: int | str) -> tuple[Patient, dict[str, object]]:
    """Everything the clinician's creativity page shows: three queries whatever the number of tasks."""
    patient = patient_get(user=user, patient_id=patient_id, purpose="creativity")
    administrations = _page_administrations(patient_id=patient.pk)
    completed = sorted(
        (a for a in administrations if a.status == Status.COMPLETED), key=lambda a: (a.submitted_at, a.pk)
    )
    return patient, {
        "administrations": administrations,
        "history": completed,
        "symptoms": symptom_totals(patient=patient),
    }


def administration_for_staff(
    *, user: User, patient_id: int | str, administration_id: int | str
) -> tuple[Patient, CreativityAdministration, list[tuple[dict[str, str], list[AUTResponse]]]]:
    """One administration with its responses in the order the objects were given."""
    patient = patient_get(user=user, patient_id=patient_id, purpose="creativity responses")
    try:
        administration = CreativityAdministration.objects.get(pk=int(administration_id), patient=patient)
    except (CreativityAdministration.DoesNotExist, ValueError, TypeError):
        raise Http404("No such task.") from None
    position = {p["prompt"]: i for i, p in enumerate(administration.prompts)}
    responses = sorted(administration.responses.all(), key=lambda r: (position.get(r.prompt, 99), r.order))
    by_prompt = [(prompt, [r for r in responses if r.prompt == prompt["prompt"]]) for prompt in administration.prompts]
    return patient, administration, by_prompt


# --- for the outcomes analysis ------------------------------------------------------------------------------

SCORE_COLUMNS = ("patient_id", "group_id", "task", "occasion", "form_id", "submitted_at", "closed_by_timer", *SCORES)


def creativity_scores_frame(
    patient_ids: Collection[int] | None = None,
) -> QuerySet[CreativityAdministration, dict[str, Any]]:
    """One row per scored administration (per patient, occasion and task), as a values() query in one SQL
    statement: `pandas.DataFrame.from_records(creativity_scores_frame())` gives the outcomes frame. AUT rows
    carry fluency..elaboration_mean (per-object means), DAT rows dat_score and its percentile against random
    nouns. No free text is selected. The caller audits the export it makes of it."""
    rows = CreativityAdministration.objects.filter(status=Status.COMPLETED)
    if patient_ids is not None:
        rows = rows.filter(patient_id__in=patient_ids)
    scores: QuerySet[CreativityAdministration, dict[str, Any]] = rows.order_by(
        "patient_id", "submitted_at", "pk"
    ).values(*SCORE_COLUMNS)
    return scores
