"""Writes for measurement-based care. Each is atomic and writes its audit row in the same transaction.

Scoring is delegated to kapstone.measures.scoring; a critical answer raises its alert in the same
transaction that stores the answer, so an answer can never be saved without its alert.
"""

from __future__ import annotations

import datetime
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

if TYPE_CHECKING:
    # Only for the annotations selectors.reminders_due adds: the package is a development dependency.
    from django_stubs_ext import WithAnnotations

from kapstone.accounts import services as accounts_services
from kapstone.accounts.models import User
from kapstone.accounts.roles import Role
from kapstone.audit import services as audit
from kapstone.measures import long_term_safety, selectors
from kapstone.measures.assessment_plans import DEFAULT_PLAN, PLAN_SETTING, DueItem, Plan, due_items, load_plan
from kapstone.measures.change import takes_practice_baseline_sample
from kapstone.measures.crisis import crisis_announce_on_commit, crisis_phrases_in
from kapstone.measures.dates import entered_date_problem
from kapstone.measures.models import (
    SUICIDE_RISK,
    AlertOccurrence,
    Assessment,
    BaselineTotal,
    CriticalAlert,
    Invitation,
    PracticeBaseline,
    ReminderLog,
    UrineToxicology,
    token_digest,
)
from kapstone.measures.portal_settings import portal_setting
from kapstone.measures.scoring import (
    Instrument,
    InvalidAnswers,
    ScoreResult,
    ScoringError,
    get_instrument,
    list_instruments,
    missing_required_items,
    score,
    score_total,
)
from kapstone.measures.selectors import (
    Reminders,
    first_total,
    first_totals,
    instrument_settings,
    sample_sd,
    stored_answers,
)
from kapstone.measures.signals import alert_raised
from kapstone.patients.contact import may_message_now
from kapstone.patients.models import Patient
from kapstone.practice.settings_store import practice_value
from kapstone.practice.signals import ASKS_WHETHER_ALLERGIC, SAFETY_EVENT_KINDS
from kapstone.program.models import Enrolment, Group, GroupSession

logger = logging.getLogger(__name__)

# How a questionnaire's written answer that the crisis screen flags is announced (practice.signals.SAFETY_EVENT_KINDS).
ANSWER_CRISIS_KIND = "answer_crisis_keyword"


class IncompleteAnswers(InvalidAnswers):
    """A submit with questions still unanswered; `missing` lists their numbers. `endorses_suicide_item`: the answers
    given call for the crisis lines or a critical alert, so they must not be dropped (see handle_questionnaire)."""

    def __init__(self, missing: tuple[int, ...], *, endorses_suicide_item: bool = False):
        self.missing = missing
        self.endorses_suicide_item = endorses_suicide_item
        numbers = ", ".join(str(n) for n in missing)
        super().__init__(f"Please answer every question before you submit (still unanswered: {numbers}).")


class InvitationUnusable(Exception):
    """An invitation that exists and is the patient's own, but has been used or has expired."""


class NotOpen(InvalidAnswers):
    pass


# --- scheduling ---------------------------------------------------------------------------------------------


def assessment_from_plan(*, item: DueItem, plan: Plan, patient_id: int, group_id: int) -> Assessment:
    """The unsaved questionnaire a plan's due item asks of one patient in one course. It writes nothing (so it is
    not atomic): the scheduling below and the demo practice build their rows with it and save them in bulk."""
    return Assessment(
        patient_id=patient_id,
        group_id=group_id,
        instrument_id=item.instrument_id,
        plan_id=plan.id,
        plan_version=plan.version,
        occasion=item.occasion,
        occasion_label=item.occasion_label,
        due_at=item.due_at,
        expires_at=item.expires_at,
    )


@transaction.atomic
def assessments_schedule_for_group(*, actor: User | None, group: Group) -> int:
    """Puts due every questionnaire the practice's plan asks of each enrolled patient, from the group's
    session dates, and returns how many it added. Running it again adds only what is missing and re-dates each
    still-open questionnaire whose session has moved (the one before dosing session 2 follows dosing session 2),
    so it is run after every reschedule. A completed or expired questionnaire keeps the dates it had: they are
    the dates it was answered, or missed, under."""
    plan = load_plan(practice_value(PLAN_SETTING, DEFAULT_PLAN))
    sessions = list(GroupSession.objects.filter(group=group).order_by("starts_at"))
    if not sessions:
        return 0
    dosing = sorted((s for s in sessions if s.kind == GroupSession.Kind.DOSING), key=lambda s: s.number)
    patients = list(
        Patient.objects.filter(enrolments__group=group, enrolments__status=Enrolment.Status.ENROLLED).prefetch_related(
            "diagnoses"
        )
    )
    existing = set(Assessment.objects.filter(group=group).values_list("patient_id", "occasion", "instrument_id"))
    # Locked, so a patient submitting at this moment finishes first and their questionnaire is then left alone.
    still_open = {
        (a.patient_id, a.occasion, a.instrument_id): a
        for a in Assessment.objects.select_for_update().filter(group=group, status__in=Assessment.OPEN_STATUSES)
    }
    # The group has sessions, so the course has an end; the last session's end stands in only for mypy.
    course_end = GroupSession.objects.filter(group=group).course_end() or sessions[-1].ends_at
    new, redated = [], 0
    for patient in patients:
        primary = [d.icd10_code for d in patient.diagnoses.all() if d.is_primary]
        for item in due_items(
            plan,
            session_starts=[s.starts_at for s in sessions],
            dosing_starts=[s.starts_at for s in dosing],
            course_end=course_end,
            primary_icd10_codes=primary,
            setting=practice_value,
            time_zone=timezone.get_default_timezone(),
        ):
            key = (patient.pk, item.occasion, item.instrument_id)
            moved = still_open.get(key)
            if moved is not None and (moved.due_at, moved.expires_at) != (item.due_at, item.expires_at):
                before = {
                    "due_at": moved.due_at,
                    "expires_at": moved.expires_at,
                    "plan": moved.plan_id,
                    "plan_version": moved.plan_version,
                }
                # The new dates come from today's plan, so the questionnaire now names it.
                moved.due_at, moved.expires_at = item.due_at, item.expires_at
                moved.plan_id, moved.plan_version = plan.id, plan.version
                moved.save(update_fields=["due_at", "expires_at", "plan_id", "plan_version", "updated_at"])
                audit.record(
                    action=audit.Action.UPDATE,
                    actor=actor,
                    patient=patient,
                    object_type="assessment",
                    object_id=moved.pk,
                    detail={
                        "rescheduled": "the group's sessions moved",
                        "occasion": item.occasion,
                        "before": before,
                        "after": {
                            "due_at": item.due_at,
                            "expires_at": item.expires_at,
                            "plan": plan.id,
                            "plan_version": plan.version,
                        },
                    },
                )
                redated += 1
            if key in existing:
                continue
            new.append(assessment_from_plan(item=item, plan=plan, patient_id=patient.pk, group_id=group.pk))
    Assessment.objects.bulk_create(new)
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        object_type="assessment_schedule",
        object_id=group.pk,
        detail={
            "plan": plan.id,
            "plan_version": plan.version,
            "created": len(new),
            "redated": redated,
            "patients": len(patients),
        },
    )
    return len(new)


@transaction.atomic
def assessment_create(
    *, actor: User | None, patient: Patient, instrument_id: str, occasion: str = Assessment.AD_HOC
) -> Assessment:
    """An unscheduled questionnaire, e.g. one staff go through with the patient in the room."""
    get_instrument(instrument_id)
    assessment = Assessment.objects.create(
        patient=patient,
        instrument_id=instrument_id,
        occasion=occasion,
        occasion_label=Assessment.AD_HOC_LABEL if occasion == Assessment.AD_HOC else "",
        due_at=timezone.now(),
    )
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        patient=patient,
        object_type="assessment",
        object_id=assessment.pk,
        detail={"instrument": instrument_id, "occasion": occasion},
    )
    return assessment


# --- answers, scores and alerts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WantedAlert:
    rule: str
    level: str
    reason: str
    priority: int


def _alerts_wanted(instrument: Instrument, result: ScoreResult) -> WantedAlert | None:
    """The one alert these answers call for, if any. Critical answers (a critical triage level or a critical
    flag) page the care team; a suicide-risk answer below them (a lower triage level such as the C-SSRS "low",
    or a flag the instrument shows crisis lines for, such as QIDS-SR16 item 12 = 1) is put in the queue for
    review, so every answer the crisis page tells the patient about is seen by someone."""
    critical_flags = [flag for flag in instrument.flags if flag.critical and flag.id in result.flags]
    risk = instrument.risk
    if risk is not None and result.risk in risk.critical_levels:
        # One alert for one triage: the critical flags behind the level are its reason, not alerts of their own.
        details = " ".join(flag.message for flag in critical_flags)
        top = result.risk == risk.levels[-1]
        return WantedAlert(
            "risk",
            result.risk,
            f"{instrument.short_name}: {risk.in_words(result.risk)}. {details}".strip(),
            CriticalAlert.Priority.HIGH if top else CriticalAlert.Priority.URGENT,
        )
    if critical_flags:
        reason = " ".join(flag.message for flag in critical_flags)
        return WantedAlert(
            critical_flags[0].id, "", f"{instrument.short_name}: {reason}", CriticalAlert.Priority.URGENT
        )
    if risk is not None and result.risk in risk.levels[1:]:
        return WantedAlert(
            "risk",
            result.risk,
            f"{instrument.short_name}: {risk.in_words(result.risk)}, for review.",
            CriticalAlert.Priority.REVIEW,
        )
    crisis_flags = [flag for flag in instrument.flags if flag.crisis_resources and flag.id in result.flags]
    if crisis_flags:
        reason = " ".join(flag.message for flag in crisis_flags)
        return WantedAlert(crisis_flags[0].id, "", f"{instrument.short_name}: {reason}", CriticalAlert.Priority.REVIEW)
    return None


def _alert_join_key(*, kind: str, patient_id: int | None, object_type: str = "", object_id: int | str = "") -> str:
    """What a new alert joins while it is open: the patient's alert of that kind, or for an event about the
    practice itself (no patient) the record it names."""
    if patient_id is not None:
        return f"patient:{patient_id}:{kind}"
    return f"practice:{kind}:{object_type}:{object_id}"


def _alert_record(
    *,
    kind: str,
    patient_id: int | None,
    source_key: str,
    rule: str,
    level: str,
    reason: str,
    priority: int,
    assessment: Assessment | None = None,
    object_type: str = "",
    object_id: int | str = "",
) -> CriticalAlert | None:
    """Opens an alert, or joins the open one with the same join key, and records the occurrence. A joining
    occurrence of higher priority raises the alert in place (the queue shows the highest risk reached and pages
    if it now must). Returns None when this source was already recorded. Runs inside the caller's transaction."""
    if AlertOccurrence.objects.filter(source_key=source_key).exists():
        return None
    now = timezone.now()
    reason = reason[:300]
    join_key = _alert_join_key(kind=kind, patient_id=patient_id, object_type=object_type, object_id=object_id)
    alert = CriticalAlert.objects.select_for_update().filter(join_key=join_key, acknowledged_at__isnull=True).first()
    opened = False
    if alert is None:
        try:
            with transaction.atomic():
                alert = CriticalAlert.objects.create(
                    kind=kind,
                    priority=priority,
                    assessment=assessment,
                    object_type=object_type,
                    object_id=str(object_id),
                    patient_id=patient_id,
                    rule=rule,
                    level=level,
                    reason=reason,
                    raised_at=now,
                    join_key=join_key,
                )
            opened = True
        except IntegrityError:
            # Another transaction opened the alert a moment ago (the open-key constraint refused a second): join it.
            alert = CriticalAlert.objects.select_for_update().get(join_key=join_key, acknowledged_at__isnull=True)
    rose = not opened and priority > alert.priority
    if opened:
        audit.record(
            action=audit.Action.CREATE,
            patient_id=patient_id,
            object_type="critical_alert",
            object_id=alert.pk,
            detail={"kind": kind, "rule": rule, "level": level, "priority": priority, "source": source_key},
        )
    else:
        detail: dict[str, object] = {"joined": source_key, "rule": rule, "level": level}
        if rose:
            detail |= {"escalated_from": alert.level or alert.get_priority_display(), "priority": priority}
            alert.priority, alert.rule, alert.level, alert.reason = priority, rule, level, reason
            alert.assessment = assessment or alert.assessment
            alert.save(update_fields=["priority", "rule", "level", "reason", "assessment"])
        audit.record(
            action=audit.Action.UPDATE,
            patient_id=patient_id,
            object_type="critical_alert",
            object_id=alert.pk,
            detail=detail,
        )
    AlertOccurrence.objects.create(
        alert=alert,
        source_key=source_key,
        assessment=assessment,
        rule=rule,
        level=level,
        priority=priority,
        reason=reason,
        at=now,
    )
    if opened or rose:
        alert_id = alert.pk
        transaction.on_commit(lambda: alert_raised.send(sender=CriticalAlert, alert_id=alert_id, opened=opened))
    return alert


def _alerts_raise(assessment: Assessment, result: ScoreResult) -> CriticalAlert | None:
    """Raises what the answers call for. The caller holds the assessment's row lock, so a partial save and the
    final submit are serialised.

    Answers reaching a higher priority than this questionnaire has already reported raise the patient's open
    suicide-risk alert to it (or open one, if the last was acknowledged: that acknowledgement answered a lower
    risk). Answers at or below what was already reported raise nothing: answers changed downwards do not
    withdraw a risk that was reported, and a save repeated does not repeat an alert."""
    wanted = _alerts_wanted(get_instrument(assessment.instrument_id), result)
    if wanted is None:
        return None
    reported = AlertOccurrence.objects.filter(assessment=assessment).aggregate(highest=Max("priority"))["highest"]
    if reported is not None and reported >= wanted.priority:
        return None
    return _alert_record(
        kind=SUICIDE_RISK,
        patient_id=assessment.patient_id,
        source_key=f"assessment:{assessment.pk}:{wanted.rule}:{wanted.level}",
        rule=wanted.rule,
        level=wanted.level,
        reason=wanted.reason,
        priority=wanted.priority,
        assessment=assessment,
    )


@transaction.atomic
def alert_raise_for_event(
    *, kind: str, level: str, patient_id: int | None, summary: str, object_type: str, object_id: int | str
) -> CriticalAlert | None:
    """Puts a safety event another app announced (kapstone.practice.signals.safety_event) on the queue: "urgent"
    pages the care team, "review" waits in the queue. The same event announced twice is recorded once."""
    if kind not in SAFETY_EVENT_KINDS:
        raise ValueError(f"Unknown safety event kind {kind!r}.")
    if level not in ("urgent", "review"):
        raise ValueError(f"A safety event's level is urgent or review, not {level!r}.")
    priority = CriticalAlert.Priority.URGENT if level == "urgent" else CriticalAlert.Priority.REVIEW
    try:
        with transaction.atomic():
            return _alert_record(
                kind=kind,
                patient_id=patient_id,
                source_key=f"event:{kind}:{object_type}:{object_id}",
                rule=kind,
                level="",
                reason=summary or SAFETY_EVENT_KINDS[kind],
                priority=priority,
                object_type=object_type,
                object_id=object_id,
            )
    except IntegrityError:
        # The same event recorded by another worker between the check and the insert.
        return None


def _stored(answers: Mapping[int, int | None]) -> dict[str, int]:
    return {str(number): value for number, value in sorted(answers.items()) if value is not None}


@transaction.atomic
def assessment_save_answers(
    *,
    actor: User | None,
    assessment: Assessment,
    answers: Mapping[int, int | None],
    submit: bool,
    free_text: str | None = None,
) -> ScoreResult:
    """Saves answers: a partial save keeps them for later, a submit scores them. Invalid or (on submit)
    incomplete answers raise before anything is written. Every critical rule (PHQ-9 item 9, QIDS-SR16 item 12,
    a C-SSRS triage level) raises its alert on a partial save too: an endorsed suicide item must not wait for
    the rest of the form, since a patient who stops there may never submit. Later answers can only raise an
    alert's level (see _alerts_raise)."""
    assessment = Assessment.objects.select_for_update().get(pk=assessment.pk)
    if not assessment.is_open:
        raise NotOpen(f"This questionnaire is {assessment.get_status_display().lower()}; it can no longer be changed.")
    instrument = get_instrument(assessment.instrument_id)
    # Scored as given, so an answer to an item the instrument does not have is refused, not silently dropped.
    result = score(assessment.instrument_id, answers, settings=instrument_settings(assessment.instrument_id))
    merged = {number: answers.get(number) for number in instrument.item_numbers}
    if submit and not result.complete:
        raise IncompleteAnswers(result.missing_items, endorses_suicide_item=result.crisis_resources or result.critical)
    assessment.answers = _stored(merged)
    if free_text is not None:
        assessment.free_text = _free_text(instrument, free_text)
    by_staff = actor is not None and not actor.is_patient
    if by_staff:
        assessment.source = Assessment.Source.STAFF_ITEMS
        assessment.entered_by = actor
    if submit:
        _complete(assessment, result)
    else:
        assessment.status = Assessment.Status.IN_PROGRESS
    assessment.save()
    if submit:
        _baseline_sample_keep(patient_id=assessment.patient_id, instrument_id=assessment.instrument_id)
    _alerts_raise(assessment, result)
    if submit:
        long_term_safety.review_answers(
            instrument, result, patient_id=assessment.patient_id, assessment_id=assessment.pk
        )
    # The written answer is read by the care team, as a secure message is: the same crisis screen, its own alert; on a
    # save too, as an endorsed suicide item is (the queue records an event announced twice once).
    if crisis_phrases_in(assessment.free_text):
        crisis_announce_on_commit(
            sender=Assessment,
            kind=ANSWER_CRISIS_KIND,
            patient_id=assessment.patient_id,
            summary="A written answer on a questionnaire mentions a crisis; read it and reach out.",
            object_type="assessment",
            object_id=assessment.pk,
        )
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        patient_id=assessment.patient_id,
        object_type="assessment",
        object_id=assessment.pk,
        detail={"instrument": assessment.instrument_id, "submitted": submit, "answered": len(assessment.answers)},
    )
    return result


def _free_text(instrument: Instrument, text: str) -> str:
    spec = instrument.definition.get("free_text")
    text = (text or "").strip()
    if spec is None:
        if text:
            raise InvalidAnswers(f"{instrument.short_name} takes no written answer.")
        return ""
    if len(text) > int(spec["max_length"]):
        raise InvalidAnswers(f"Keep the written answer to {spec['max_length']} characters.")
    return text


# --- long-term safety: urine drug screens ------------------------------------------------------------------


class ToxicologyError(ValueError):
    """A urine drug screen result the service refuses, with a message for the person entering it."""


@transaction.atomic
def urine_toxicology_record(
    *,
    actor: User,
    patient: Patient,
    collected_on: datetime.date,
    result: str,
    substances_found: list[str],
    prescribed_found: list[str],
) -> UrineToxicology:
    """Records a urine drug screen's result. A substance found that the patient is not prescribed puts a review
    alert (long-term safety) in the care team's queue."""
    problem = entered_date_problem(collected_on)
    if problem:
        raise ToxicologyError(problem)
    if result not in UrineToxicology.Result.values:
        raise ToxicologyError(f"The result must be one of {', '.join(UrineToxicology.Result.values)}.")
    known = long_term_safety.substance_labels()
    unknown = sorted(set(substances_found) - set(known))
    if unknown:
        raise ToxicologyError(f"Unknown substance code {unknown[0]!r}.")
    if (result == UrineToxicology.Result.POSITIVE) != bool(substances_found):
        raise ToxicologyError("A positive screen names what was found; a negative or invalid one names nothing.")
    if not set(prescribed_found) <= set(substances_found):
        raise ToxicologyError("Only a substance that was found can be marked as prescribed.")
    record = UrineToxicology.objects.create(
        patient=patient,
        collected_on=collected_on,
        result=result,
        substances_found=sorted(substances_found),
        prescribed_found=sorted(prescribed_found),
        entered_by=actor,
    )
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        patient=patient,
        object_type="urine_toxicology",
        object_id=record.pk,
        detail={"result": result, "found": record.substances_found, "prescribed": record.prescribed_found},
    )
    if record.unexpected:
        names = ", ".join(known[code] for code in record.unexpected)
        long_term_safety.announce_on_commit(
            kind="long_term_safety",
            patient_id=patient.pk,
            summary=f"Urine drug screen positive for a substance not prescribed: {names}.",
            object_type="urine_toxicology",
            object_id=record.pk,
        )
    return record


def _complete(assessment: Assessment, result: ScoreResult, *, at: datetime.datetime | None = None) -> None:
    assessment.status = Assessment.Status.COMPLETED
    assessment.result = result.as_dict()
    assessment.total = result.total
    assessment.severity = result.severity or ""
    assessment.critical = result.critical
    assessment.instrument_version = result.instrument_version
    assessment.completed_at = at or timezone.now()


def _baseline_sample_fill(sample: PracticeBaseline) -> None:
    """Every patient's member of the sample, from the questionnaires (the one practice-wide scan)."""
    BaselineTotal.objects.filter(instrument_id=sample.instrument_id).delete()
    BaselineTotal.objects.bulk_create(
        BaselineTotal(patient_id=patient_id, instrument_id=sample.instrument_id, total=total)
        for patient_id, total in first_totals(instrument_id=sample.instrument_id).items()
    )


def _baseline_sample_store(sample: PracticeBaseline) -> None:
    totals = list(BaselineTotal.objects.filter(instrument_id=sample.instrument_id).values_list("total", flat=True))
    sample.n, sample.sd = len(totals), sample_sd(totals)
    sample.save(update_fields=["n", "sd"])


def _baseline_sample_keep(*, patient_id: int, instrument_id: str) -> None:
    """Keeps the practice's baseline sample (selectors.practice_baseline_sample) in step with a total just
    completed, corrected or voided, inside the writer's transaction: the patient's member (their first total,
    which a total entered with an earlier date, a correction or a void can change) and the sample's size and SD.

    Writers of one instrument queue on its PracticeBaseline row (locked here, before the audit trail's head, as
    every writer does), so each reads the members the one before it committed. The first writer for an instrument
    without a row fills in every member from the questionnaires."""
    if not takes_practice_baseline_sample(get_instrument(instrument_id)):
        return
    sample, created = PracticeBaseline.objects.select_for_update().get_or_create(instrument_id=instrument_id)
    if created:
        _baseline_sample_fill(sample)
    else:
        total = first_total(patient_id=patient_id, instrument_id=instrument_id)
        if total is None:
            BaselineTotal.objects.filter(instrument_id=instrument_id, patient_id=patient_id).delete()
        else:
            BaselineTotal.objects.update_or_create(
                instrument_id=instrument_id, patient_id=patient_id, defaults={"total": total}
            )
    _baseline_sample_store(sample)


@transaction.atomic
def practice_baselines_rebuild() -> int:
    """Fills in every instrument's baseline sample from the questionnaires, for results written in bulk rather than
    through the services (the demo practice). Returns how many instruments it filled."""
    rebuilt = 0
    for instrument in list_instruments():
        if takes_practice_baseline_sample(instrument):
            sample, _ = PracticeBaseline.objects.select_for_update().get_or_create(instrument_id=instrument.id)
            _baseline_sample_fill(sample)
            _baseline_sample_store(sample)
            rebuilt += 1
    return rebuilt


@transaction.atomic
def assessment_record_total(
    *,
    actor: User,
    patient: Patient,
    instrument_id: str,
    total: int,
    completed_on: datetime.date,
    items: Mapping[int, int | None] | None = None,
    scheduled: Assessment | None = None,
    occasion: str = Assessment.AD_HOC,
) -> Assessment:
    """A total from a licensed form the practice holds (BDI-II, HAM-A, Y-BOCS): never the items, except those the
    instrument records on their own beside the total (BDI-II item 9), whose flags raise alerts like any answer.

    With `scheduled` (an open questionnaire of this patient's course, from the assessment plan), the total
    completes it, so it counts at its occasion (baseline, end of course) in the course's report; otherwise it is
    an unscheduled total."""
    _check_entered_date(completed_on)
    instrument = get_instrument(instrument_id)
    missing = missing_required_items(instrument, items)
    if missing:
        raise EnteredTotalError(f"Enter {instrument.short_name} {missing[0].label.split(':')[0].lower()} as well.")
    result = score_total(instrument_id, total, items=items, settings=instrument_settings(instrument_id))
    completed_at = _entered_at(completed_on)
    if scheduled is not None:
        assessment = Assessment.objects.select_for_update().get(pk=scheduled.pk)
        if assessment.patient_id != patient.pk or assessment.instrument_id != instrument_id:
            raise EnteredTotalError(f"That scheduled questionnaire is not this patient's {instrument.short_name}.")
        if not assessment.is_open:
            status = assessment.get_status_display().lower()
            raise EnteredTotalError(
                f"That scheduled {instrument.short_name} is {status}; record it as an extra check-in."
            )
    else:
        assessment = Assessment(
            patient=patient,
            instrument_id=instrument_id,
            occasion=occasion,
            occasion_label=Assessment.AD_HOC_LABEL if occasion == Assessment.AD_HOC else "",
            due_at=completed_at,
        )
    assessment.source = Assessment.Source.STAFF_TOTAL
    assessment.entered_by = actor
    assessment.answers = _stored(items or {})
    _complete(assessment, result, at=completed_at)
    assessment.save()
    _baseline_sample_keep(patient_id=patient.pk, instrument_id=instrument_id)
    _alerts_raise(assessment, result)
    audit.record(
        action=audit.Action.CREATE if scheduled is None else audit.Action.UPDATE,
        actor=actor,
        patient=patient,
        object_type="assessment",
        object_id=assessment.pk,
        detail={
            "instrument": instrument_id,
            "entered_total": True,
            "occasion": assessment.occasion,
            "entered_items": sorted(assessment.answers),
        },
    )
    return assessment


class EnteredTotalError(ScoringError):
    """An entered total, or a change to one, that the service refuses, with a message for the person."""


AMENDMENT_REASON_MAX = 500


def _check_entered_date(day: datetime.date) -> None:
    problem = entered_date_problem(day)
    if problem:
        raise EnteredTotalError(problem)


def _entered_at(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))


def _amendment_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise EnteredTotalError("Say why the total is being changed.")
    if len(reason) > AMENDMENT_REASON_MAX:
        raise EnteredTotalError(f"Keep the reason to {AMENDMENT_REASON_MAX} characters.")
    return reason


def _amendable(assessment: Assessment) -> Assessment:
    """The entered total, locked for the change; only a completed staff-entered total may be corrected or voided
    (a questionnaire the patient answered is their own record of what they said)."""
    locked = Assessment.objects.select_for_update().get(pk=assessment.pk)
    if locked.source != Assessment.Source.STAFF_TOTAL:
        raise EnteredTotalError("Only a total entered by staff can be corrected or voided.")
    if locked.status != Assessment.Status.COMPLETED:
        raise EnteredTotalError("This total has already been voided.")
    return locked


@transaction.atomic
def entered_total_correct(
    *, actor: User, assessment: Assessment, total: int, completed_on: datetime.date, reason: str
) -> Assessment:
    """Corrects an entered total's value or date, rescored by the instrument's rules. The audit entry keeps the
    values before and after, and the reason."""
    reason = _amendment_reason(reason)
    _check_entered_date(completed_on)
    assessment = _amendable(assessment)
    # The items entered beside the total (BDI-II item 9) stand as they were recorded: only the total or date changes.
    result = score_total(
        assessment.instrument_id,
        total,
        items=stored_answers(assessment=assessment),
        settings=instrument_settings(assessment.instrument_id),
    )
    before = {"total": assessment.total, "completed_at": assessment.completed_at}
    completed_at = _entered_at(completed_on)
    _complete(assessment, result, at=completed_at)
    assessment.due_at = completed_at
    assessment.amended_at, assessment.amended_by, assessment.amendment_reason = timezone.now(), actor, reason
    assessment.save()
    _baseline_sample_keep(patient_id=assessment.patient_id, instrument_id=assessment.instrument_id)
    _alerts_raise(assessment, result)
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        patient_id=assessment.patient_id,
        object_type="assessment.entered_total",
        object_id=assessment.pk,
        detail={
            "corrected": True,
            "before": before,
            "after": {"total": assessment.total, "completed_at": completed_at},
            "reason": reason,
        },
    )
    return assessment


@transaction.atomic
def entered_total_void(*, actor: User, assessment: Assessment, reason: str) -> Assessment:
    """Withdraws an entered total entered by mistake: the row stays, voided, in no chart or report; the audit entry
    keeps what it held and the reason."""
    reason = _amendment_reason(reason)
    assessment = _amendable(assessment)
    assessment.status = Assessment.Status.VOIDED
    assessment.amended_at, assessment.amended_by, assessment.amendment_reason = timezone.now(), actor, reason
    assessment.save(update_fields=["status", "amended_at", "amended_by", "amendment_reason", "updated_at"])
    _baseline_sample_keep(patient_id=assessment.patient_id, instrument_id=assessment.instrument_id)
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        patient_id=assessment.patient_id,
        object_type="assessment.entered_total",
        object_id=assessment.pk,
        detail={
            "voided": True,
            "before": {"total": assessment.total, "completed_at": assessment.completed_at},
            "reason": reason,
        },
    )
    return assessment


@transaction.atomic
def alert_acknowledge(*, actor: User, alert: CriticalAlert, note: str, finding: str = "") -> CriticalAlert:
    """An acknowledgement is the care team's follow-up of the alert, with a note of what was done: enrolment, the
    dosing room and discharge read it as a clinician's review of a suicide-risk answer or a safety finding, so only a
    clinician gives one (the queue offers the form to no one else). An allergic reaction to the drug is acknowledged
    with what the clinician found (`finding`, CriticalAlert.Finding): a confirmed one goes on excluding further doses
    and courses (kapstone.dosing reads it), where closing the alert alone would let them go ahead; "not allergic" lets
    them go ahead, so only a prescriber finds it, as only a prescriber corrects a confirmed one."""
    if not actor.is_clinician:
        raise ValueError("Only a clinician acknowledges an alert: it records the care team's follow-up.")
    note = (note or "").strip()
    if not note:
        raise ValueError("Write what was done (for example: called the patient, safety plan reviewed).")
    alert = CriticalAlert.objects.select_for_update().get(pk=alert.pk)
    if alert.acknowledged_at is not None:
        raise ValueError("This alert was already acknowledged.")
    if alert.kind in ASKS_WHETHER_ALLERGIC:
        if finding not in CriticalAlert.Finding.values:
            raise ValueError(
                "Say whether it was an allergic reaction to the drug: a confirmed one excludes further doses and "
                "courses (ketamine and esketamine are contraindicated in hypersensitivity)."
            )
        if finding == CriticalAlert.Finding.NOT_ALLERGIC and actor.role != Role.PRESCRIBER:
            raise ValueError(
                "Only a prescriber finds a reaction not allergic: it lets the next dose go ahead. Acknowledge it as "
                "confirmed; a prescriber corrects that, with a reason, if it was not one."
            )
    else:
        finding = ""
    alert.acknowledged_by = actor
    alert.acknowledged_at = timezone.now()
    alert.acknowledgement_note = note
    alert.acknowledgement_finding = finding
    alert.save(update_fields=["acknowledged_by", "acknowledged_at", "acknowledgement_note", "acknowledgement_finding"])
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        patient_id=alert.patient_id,
        object_type="critical_alert",
        object_id=alert.pk,
        detail={"acknowledged": True, "rule": alert.rule, **({"finding": finding} if finding else {})},
    )
    return alert


@transaction.atomic
def alert_finding_correct(*, actor: User, alert: CriticalAlert, reason: str) -> CriticalAlert:
    """A prescriber records that a reaction acknowledged as allergic was not (an allergist's tests, another cause
    found), with the reason: only then may the patient be dosed or enrolled again. The first finding stays in the
    audit trail."""
    if actor.role != Role.PRESCRIBER:
        raise ValueError("Only a prescriber corrects a confirmed allergic reaction: it decides whether to dose again.")
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("Write why the reaction was not an allergic reaction to the drug.")
    alert = CriticalAlert.objects.select_for_update().get(pk=alert.pk)
    if alert.acknowledgement_finding != CriticalAlert.Finding.CONFIRMED:
        raise ValueError("Only an allergic reaction acknowledged as confirmed can be corrected.")
    alert.acknowledgement_finding = CriticalAlert.Finding.NOT_ALLERGIC
    alert.finding_corrected_by, alert.finding_corrected_at = actor, timezone.now()
    alert.finding_correction_reason = reason
    alert.save(
        update_fields=[
            "acknowledgement_finding",
            "finding_corrected_by",
            "finding_corrected_at",
            "finding_correction_reason",
        ]
    )
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        patient_id=alert.patient_id,
        object_type="critical_alert",
        object_id=alert.pk,
        detail={
            "finding": {"before": CriticalAlert.Finding.CONFIRMED, "after": CriticalAlert.Finding.NOT_ALLERGIC},
            "reason": reason,
        },
    )
    return alert


# --- invitations and reminders ------------------------------------------------------------------------------


@transaction.atomic
def invitation_create(*, assessment: Assessment, now: datetime.datetime | None = None) -> tuple[Invitation, str]:
    """A new single-use link; returns the token in the clear once, for the message, and stores its hash."""
    now = now or timezone.now()
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        assessment=assessment,
        token_hash=token_digest(token),
        expires_at=now + datetime.timedelta(days=int(portal_setting("invitation_expiry_days"))),
    )
    return invitation, token


@transaction.atomic
def invitation_redeem(*, actor: User, token: str) -> Assessment:
    """Spends an invitation and returns its questionnaire. Someone else's or an unknown token is a 404, so a
    link reveals nothing to the wrong person; a used or expired one raises InvitationUnusable."""
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("assessment__patient")
        .filter(token_hash=token_digest(token or ""))
        .first()
    )
    if invitation is None or invitation.assessment.patient.user_id != actor.pk:
        raise Http404("No such invitation.")
    if not invitation.assessment.patient_can_answer:
        # Sent before the practice's wording for it was withdrawn; the portal no longer shows this questionnaire.
        raise InvitationUnusable("Your care team will go through this questionnaire with you.")
    if invitation.used_at is not None:
        raise InvitationUnusable("This link has already been used. Your questionnaires are listed in your portal.")
    if invitation.expires_at <= timezone.now():
        raise InvitationUnusable("This link has expired. Your questionnaires are listed in your portal.")
    invitation.used_at = timezone.now()
    invitation.save(update_fields=["used_at"])
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        patient=invitation.assessment.patient,
        object_type="invitation",
        object_id=invitation.pk,
        detail={"redeemed": True, "assessment": invitation.assessment_id},
    )
    return invitation.assessment


def invitation_send(*, patient: Patient, links: Sequence[tuple[Assessment, str]], reminder: bool) -> None:
    """The one place a questionnaire message leaves Kapstone. It names no instrument or score: an inbox is
    not a private place."""
    address = patient.email or (patient.user.email if patient.user else "")
    lines = [
        f"Hello {patient.preferred_name or patient.given_name},",
        "",
        "A reminder: your care team is still waiting for" if reminder else "Your care team asks you to fill in",
        f"{'a short questionnaire' if len(links) == 1 else f'{len(links)} short questionnaires'} in your portal:",
        "",
        *[f"{assessment.occasion_label or 'Questionnaire'}: {url}" for assessment, url in links],
        "",
        "Each link works once and expires; after that, sign in to your portal to find your questionnaires.",
        "This mailbox and the portal are not watched around the clock. If you are in crisis:",
        # The practice's own lines (data/portal.yaml or its setting), the same ones the portal shows.
        *[f"{line['label']}: {line['contact']}" for line in portal_setting("crisis_resources")],
    ]
    send_mail(
        subject="Your questionnaire" + (" (reminder)" if reminder else ""),
        message="\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[address],
    )


def _invitation_url(token: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("portal:invitation", kwargs={"token": token})


@transaction.atomic
def assessments_expire_overdue(*, now: datetime.datetime) -> int:
    overdue = Assessment.objects.filter(status__in=Assessment.OPEN_STATUSES, expires_at__lte=now)
    ids = list(overdue.values_list("pk", flat=True))
    if ids:
        Assessment.objects.filter(pk__in=ids).update(status=Assessment.Status.EXPIRED, updated_at=now)
        audit.record(action=audit.Action.UPDATE, object_type="assessment_expiry", detail={"expired": ids})
    return len(ids)


class RemindersNotDelivered(Exception):
    """Some patients' messages could not be sent this round; the others were. Nothing was recorded for them, so
    the next round (or the task's retry) tries them again."""


# Not atomic as a whole: each patient's reminders are claimed and committed before their message is sent.
def reminders_send_due(*, now: datetime.datetime | None = None) -> int:
    """Sends what is owed, one message per patient. Each patient's log rows and invitations are claimed in one
    transaction before the message is sent: if the message fails, the claim is withdrawn and a retry sends it; if
    the log row for a reminder already exists (another worker claimed it), that reminder is skipped, so none goes
    out twice.

    One patient's failure (a mailbox that refuses mail) never holds up the patients after it: every patient is
    tried, then RemindersNotDelivered names how many were not reached."""
    now = now or timezone.now()
    assessments_expire_overdue(now=now)
    sent, failed, first_error = 0, [], None
    for assessments in selectors.reminders_due(now=now).values():
        patient = assessments[0].patient
        if not (patient.email or (patient.user and patient.user.email)):
            continue
        # Questionnaire links go by email; a patient who turned email off, or is in quiet hours, is reached by
        # a later sweep (the portal still lists what is due).
        if not may_message_now(patient=patient, channel="email", now=now):
            continue
        # A patient owed more messages than LINK_MESSAGES_PER_DAY allows (a questionnaire started again and again)
        # is reached by a later sweep; the portal still lists what is due.
        if _questionnaire_messages_limit_reached(patient=patient, now=now):
            continue
        try:
            sent += _reminders_send_to(patient=patient, assessments=assessments, now=now)
        except Exception as error:
            # The error's type only: its text may hold the patient's address.
            logger.warning("questionnaire message to patient %s not sent: %s", patient.pk, type(error).__name__)
            failed.append(patient.pk)
            first_error = first_error or error
    if failed:
        raise RemindersNotDelivered(
            f"{len(failed)} patients' questionnaire messages were not sent ({sent} were)."
        ) from first_error
    return sent


@transaction.atomic
def _questionnaire_messages_limit_reached(*, patient: Patient, now: datetime.datetime) -> bool:
    """Whether the patient has had LINK_MESSAGES_PER_DAY questionnaire messages in the last 24 hours; a refusal is
    recorded."""
    sent = selectors.questionnaire_messages_sent(patient=patient, since=now - accounts_services.LINK_MESSAGE_WINDOW)
    if not accounts_services.link_messages_limit_reached(sent_at=sent, now=now):
        return False
    audit.record(
        action=audit.Action.UPDATE,
        patient=patient,
        object_type="link_limit_reached",
        detail={"purpose": "questionnaire", "limit": settings.LINK_MESSAGES_PER_DAY},
    )
    return True


def _reminders_send_to(
    *, patient: Patient, assessments: list[WithAnnotations[Assessment, Reminders]], now: datetime.datetime
) -> int:
    """Claims the reminders owed (their log rows and invitations, committed) and then sends the message, so that
    every link in it already works when it arrives: sent inside the transaction, a link followed at once could
    reach the portal before its invitation was committed, and was refused (a 404). If the message fails, the claim
    is released, so a retry sends it."""
    links, reminder, claimed = _reminders_claim(patient=patient, assessments=assessments, now=now)
    if not links:
        return 0
    try:
        invitation_send(patient=patient, links=links, reminder=reminder)
    except Exception:
        _reminders_release(patient=patient, logs=claimed)
        raise
    return len(links)


@transaction.atomic
def _reminders_claim(
    *, patient: Patient, assessments: list[WithAnnotations[Assessment, Reminders]], now: datetime.datetime
) -> tuple[list[tuple[Assessment, str]], bool, list[ReminderLog]]:
    """The log row and invitation of each reminder owed that no other worker has claimed: (links, whether any is a
    reminder rather than the first invitation, the log rows)."""
    links: list[tuple[Assessment, str]] = []
    reminder, claimed = False, []
    for assessment in assessments:
        sequence = assessment.sent + 1
        try:
            with transaction.atomic():
                log = ReminderLog.objects.create(assessment=assessment, sequence=sequence, sent_at=now)
        except IntegrityError:
            continue
        invitation, token = invitation_create(assessment=assessment, now=now)
        log.invitation = invitation
        log.save(update_fields=["invitation"])
        links.append((assessment, _invitation_url(token)))
        claimed.append(log)
        reminder = reminder or sequence > 1
    if links:
        audit.record(
            action=audit.Action.CREATE,
            patient=patient,
            object_type="invitation",
            detail={"assessments": [a.pk for a, _ in links], "reminder": reminder},
        )
    return links, reminder, claimed


@transaction.atomic
def _reminders_release(*, patient: Patient, logs: list[ReminderLog]) -> None:
    """Withdraws the claim of a message that was not sent: its log rows, so a retry sends it, and its unused
    invitations, whose links never left."""
    invitation_ids = [log.invitation_id for log in logs if log.invitation_id is not None]
    ReminderLog.objects.filter(pk__in=[log.pk for log in logs]).delete()
    Invitation.objects.filter(pk__in=invitation_ids).delete()
    audit.record(
        action=audit.Action.DELETE,
        patient=patient,
        object_type="invitation",
        detail={"assessments": [log.assessment_id for log in logs], "not_sent": True},
    )
