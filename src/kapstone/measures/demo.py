"""Demo questionnaires, dated from each patient's own course and linked to its group as the scheduler links them.

Every demo course gets what the practice's assessment plan asks of each member: the plan that
services.assessments_schedule_for_group reads is turned into due dates by the same function it uses
(assessment_plans.due_items), from the group's own sessions, and each row carries the group, plan, occasion and
label the scheduler gives it. So baselines come before the course, a PHQ-9 before each dosing session, the EBI
the day after, then end of course and the follow-ups. What falls due after now is left due (the current group's
later questionnaires); what has closed was answered in its window or, now and then, missed (expired), so the
outcomes report has missing data to state. One unscheduled PHQ-9 with item 9 endorsed raises an open critical
alert through the services, the way staff asking at a visit would, and each portal patient has a PHQ-9 and a
GAD-7 check-in waiting.

The numbers are invented to look like a course of treatment (baseline in the moderate-to-severe range, most
patients improving by the end, answer rates falling off over the follow-ups); they are not drawn from any study.
Answers are scored by the real engine, so totals, bands and flags always agree, and no item that a critical or
crisis-resources flag or a risk rule reads is endorsed, so the history raises no alerts of its own.

The members of the first ENTERED_COURSES completed courses also have BDI-II and HAM-A totals entered by staff from
the licensed forms, at baseline and end of course (BDI-II with its item 9, never endorsed here), through the
services; and one of them has a negative urine drug screen at follow-up.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone

from kapstone.measures import services
from kapstone.measures.assessment_plans import DEFAULT_PLAN, PLAN_SETTING, Plan, due_items, load_plan
from kapstone.measures.models import Assessment
from kapstone.measures.scoring import Instrument, ScoreResult, _condition_items, get_instrument, score
from kapstone.measures.selectors import instrument_settings
from kapstone.patients.models import Diagnosis, Patient
from kapstone.practice.settings_store import practice_value
from kapstone.program.demo import DemoCourse, demo_courses

SEEDS_AFTER = ("kapstone.program",)
CHECK_IN = ("phq9", "gad7")
BATCH = 5000
ENTERED_COURSES = 2
# Synthetic totals: (baseline range, end-of-course range) for each entered-total instrument; invented, no study.
ENTERED_TOTALS = {"bdi-ii": ((20, 34), (6, 22)), "ham-a": ((18, 28), (6, 18))}
# Synthetic share of each plan occasion's questionnaires that were answered in their window; an occasion of a
# practice's own plan that is not listed gets DEFAULT_ANSWERED.
ANSWERED = {
    "baseline": 0.99,
    "pre_dosing": 0.94,
    "day_after_dosing": 0.86,
    "end_of_course": 0.93,
    "follow_up_1m": 0.82,
    "follow_up_3m": 0.72,
    "follow_up_6m": 0.62,
}
DEFAULT_ANSWERED = 0.85
# Synthetic baseline levels (share of the instrument's range), by instrument; others get DEFAULT_LEVEL.
BASELINE_LEVEL = {
    "phq9": (0.63, 0.14),
    "gad7": (0.6, 0.17),
    "pcl5": (0.55, 0.14),
    "oci-r": (0.45, 0.14),
    "ede-q": (0.5, 0.14),
}
DEFAULT_LEVEL = (0.5, 0.15)
# Instruments that rate the dosing session itself rather than symptoms (no course trajectory).
SESSION_RATINGS = {"ebi"}


@dataclass
class _Profile:
    """One patient's invented course: a baseline level per instrument and how much of it the course relieves."""

    baselines: dict[str, float]
    improvement: float
    session_level: float


def _clip(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _quiet_items(instrument: Instrument) -> set[int]:
    """Items that a critical or crisis-resources flag, or a risk rule, reads."""
    conditions = [flag.when for flag in instrument.flags if flag.critical or flag.crisis_resources]
    conditions += [rule.when for rule in instrument.risk.rules] if instrument.risk else []
    return set().union(*(_condition_items(condition) for condition in conditions))


def _answers(rng, instrument: Instrument, level: float, quiet: set[int]) -> dict[int, int]:
    """Answers near `level` (a share of each item's range), with quiet and conditional items at their lowest."""
    answers = {}
    for item in instrument.items:
        responses = item.responses
        low, high = responses.lowest, responses.highest
        if item.number in quiet or item.ask_only_if is not None:
            value = low
        elif high is None or high - low > 100:  # a count with no usable maximum (EDE-Q behaviour counts)
            value = max(low, round(rng.gauss(level * 6, 1.5)))
        else:
            value = round(_clip(low + (high - low) * level + rng.gauss(0, (high - low) / 5), low, high))
            if responses.options:
                value = min((option for option, _ in responses.options), key=lambda option: abs(option - value))
        answers[item.number] = value
    for rule in instrument.consistency:  # a count of part of another answer's count (EDE-Q 14, 15) is at most it
        answers[rule.item] = min(answers[rule.item], answers[rule.at_most_item])
    return answers


class _Scorer:
    """Scores answers as the services do (with the practice's instrument settings), remembering recent answers:
    they repeat often (every C-SSRS screener is all "no")."""

    REMEMBERED = 4096

    def __init__(self):
        self.settings: dict[str, dict] = {}
        self.seen: dict[tuple, tuple[ScoreResult, dict]] = {}

    def __call__(self, instrument_id: str, answers: dict[int, int]) -> tuple[ScoreResult, dict]:
        key = (instrument_id, tuple(answers.items()))
        if key not in self.seen:
            if len(self.seen) >= self.REMEMBERED:
                self.seen.clear()
            if instrument_id not in self.settings:
                self.settings[instrument_id] = instrument_settings(instrument_id)
            result = score(instrument_id, answers, settings=self.settings[instrument_id])
            self.seen[key] = (result, result.as_dict())
        return self.seen[key]


def _level(rng, profile: _Profile, instrument_id: str, at: datetime.datetime, course: DemoCourse) -> float:
    """Where the patient stands at `at`: baseline until the first dose, relieved by the end of the course, a
    little of it lost again over the months after."""
    if instrument_id in SESSION_RATINGS:
        return _clip(profile.session_level + rng.gauss(0, 0.12), 0, 1)
    baseline = profile.baselines[instrument_id]
    span = (course.course_end - course.first_dosing).total_seconds() or 1
    progress = _clip((at - course.first_dosing).total_seconds() / span, 0, 1)
    months_after = max(0.0, (at - course.course_end).days / 30)
    relief = profile.improvement * (progress - min(0.25, 0.04 * months_after))
    return _clip(baseline * (1 - relief) + rng.gauss(0, 0.05), 0, 1)


def _plan_occasion(plan: Plan, key: str) -> str:
    """The plan occasion of a due item: `pre_dosing_2` belongs to `pre_dosing`."""
    ids = {occasion.id for occasion in plan.occasions}
    return key if key in ids else key.rsplit("_", 1)[0]


def _course_rows(rng, plan: Plan, course: DemoCourse, primary_codes: dict, now, scorer: _Scorer) -> list[Assessment]:
    instruments: dict[str, tuple[Instrument, set[int]]] = {}
    rows = []
    for patient_id in course.patient_ids:
        profile = _Profile(
            baselines={},
            improvement=_clip(rng.gauss(0.42, 0.28), -0.3, 0.95),
            session_level=_clip(rng.gauss(0.45, 0.2), 0.05, 0.95),
        )
        items = due_items(
            plan,
            session_starts=course.session_starts,
            dosing_starts=[start for start, _ in course.dosing],
            course_end=course.course_end,
            primary_icd10_codes=primary_codes.get(patient_id, ()),
        )
        for item in items:
            row = services.assessment_from_plan(item=item, plan=plan, patient_id=patient_id, group_id=course.group_id)
            rows.append(row)
            if item.due_at > now:
                continue
            closed = item.expires_at <= now
            if rng.random() > ANSWERED.get(_plan_occasion(plan, item.occasion), DEFAULT_ANSWERED):
                if closed:
                    row.status = Assessment.Status.EXPIRED
                continue
            answered_by = min(item.expires_at, now)
            at = item.due_at + (answered_by - item.due_at) * rng.uniform(0.05, 0.9)
            if item.instrument_id not in instruments:
                instrument = get_instrument(item.instrument_id)
                instruments[item.instrument_id] = (instrument, _quiet_items(instrument))
            instrument, quiet = instruments[item.instrument_id]
            if item.instrument_id not in profile.baselines:
                mean, spread = BASELINE_LEVEL.get(item.instrument_id, DEFAULT_LEVEL)
                profile.baselines[item.instrument_id] = _clip(rng.gauss(mean, spread), 0.25, 0.95)
            answers = _answers(rng, instrument, _level(rng, profile, item.instrument_id, at, course), quiet)
            result, stored = scorer(item.instrument_id, answers)
            row.status = Assessment.Status.COMPLETED
            row.answers = {str(number): value for number, value in answers.items()}
            row.result = stored
            row.total = result.total
            row.severity = result.severity or ""
            row.critical = result.critical
            row.instrument_version = result.instrument_version
            row.completed_at = at
    return rows


def seed(*, practice, rng, progress: Callable[[str], None]) -> None:
    now = timezone.now()
    plan = load_plan(practice_value(PLAN_SETTING, DEFAULT_PLAN))
    primary_codes: dict[int, list[str]] = {}
    for patient_id, code in Diagnosis.objects.filter(is_primary=True).values_list("patient_id", "icd10_code"):
        primary_codes.setdefault(patient_id, []).append(code)
    rows: list[Assessment] = []
    scorer = _Scorer()
    courses = demo_courses()
    for number, course in enumerate(courses, start=1):
        rows += _course_rows(rng, plan, course, primary_codes, now, scorer)
        if len(rows) >= BATCH:
            Assessment.objects.bulk_create(rows)
            rows = []
            progress(f"questionnaires for {number}/{len(courses)} courses")
    Assessment.objects.bulk_create(rows)

    # One open critical alert, raised the way a real one is: through the services, from an endorsed item 9 on
    # an unscheduled PHQ-9 (one that belongs to no course occasion).
    patients = practice.patients
    if len(patients) > 1:
        flagged = services.assessment_create(actor=None, patient=patients[1], instrument_id="phq9", occasion="ad_hoc")
        answers = dict(enumerate([2, 2, 1, 2, 1, 2, 1, 0, 1], start=1))
        services.assessment_save_answers(actor=None, assessment=flagged, answers=answers, submit=True)
    # Each portal patient has a between-sessions check-in waiting, so signing in to the demo portal shows the
    # questionnaire form (their course's own questionnaires are all answered or not yet due today).
    for patient in practice.portal_patients:
        for instrument_id in CHECK_IN:
            services.assessment_create(actor=None, patient=patient, instrument_id=instrument_id, occasion="ad_hoc")
    _entered_totals(practice, rng, plan, courses, now)
    # The course questionnaires above were written in bulk, past the services that keep the baseline samples.
    services.practice_baselines_rebuild()
    progress(f"questionnaires: {Assessment.objects.count()} stored, 1 open critical alert")


def _entered_totals(practice, rng, plan: Plan, courses: list[DemoCourse], now) -> None:
    """BDI-II and HAM-A totals entered at baseline and end of course, each completing the course's scheduled row
    as staff entering a licensed form's total do; and one urine drug screen."""
    nurse = practice.staff["nurse.haddad"]
    finished = [course for course in courses if course.course_end < now - datetime.timedelta(days=2)]
    for course in finished[:ENTERED_COURSES]:
        occasions = [
            ("baseline", "Baseline", course.first_dosing - datetime.timedelta(days=7), 0),
            ("end_of_course", "End of course", course.course_end, 1),
        ]
        for patient_id in course.patient_ids:
            for instrument_id, ranges in ENTERED_TOTALS.items():
                for occasion, label, due_at, which in occasions:
                    scheduled = Assessment.objects.create(
                        patient_id=patient_id,
                        group_id=course.group_id,
                        instrument_id=instrument_id,
                        plan_id=plan.id,
                        plan_version=plan.version,
                        occasion=occasion,
                        occasion_label=label,
                        due_at=due_at,
                        expires_at=due_at + datetime.timedelta(days=7),
                    )
                    services.assessment_record_total(
                        actor=nurse,
                        patient=scheduled.patient,
                        instrument_id=instrument_id,
                        total=rng.randint(*ranges[which]),
                        completed_on=timezone.localdate(due_at),
                        items={9: 0} if instrument_id == "bdi-ii" else None,
                        scheduled=scheduled,
                    )
    if finished:
        course = finished[0]
        services.urine_toxicology_record(
            actor=nurse,
            patient=Patient.objects.get(pk=course.patient_ids[0]),
            collected_on=timezone.localdate(course.course_end) + datetime.timedelta(days=1),
            result="negative",
            substances_found=[],
            prescribed_found=[],
        )
