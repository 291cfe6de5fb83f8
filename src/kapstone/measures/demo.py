"""Demo questionnaires: synthetic PHQ-9 and GAD-7 results for every demo patient, richer trajectories for
the first few, questionnaires due in the portal, and one open critical alert, so every page shows something.

The numbers are invented to look like a course of treatment (baseline in the moderate-to-severe range, most
patients improving by the end); they are not drawn from any study. Answers are scored by the real engine, so
totals, bands and flags always agree.
"""

import datetime
from collections.abc import Callable

from django.utils import timezone

from kapstone.measures import services
from kapstone.measures.models import Assessment
from kapstone.measures.scoring import get_instrument, score

BATCH = 2000
RICH_HISTORIES = 40
PORTAL_PATIENTS = 4


def _answers(rng, instrument_id: str, total: int, *, spare_items: tuple[int, ...] = ()) -> list[int]:
    """Item answers that add up to `total`, leaving `spare_items` (e.g. PHQ-9 item 9) at 0."""
    instrument = get_instrument(instrument_id)
    numbers = [n for n in instrument.item_numbers if n not in spare_items]
    highest = instrument.items[0].responses.highest
    total = max(0, min(total, highest * len(numbers)))
    values = dict.fromkeys(instrument.item_numbers, 0)
    while total > 0:
        number = rng.choice(numbers)
        if values[number] < highest:
            values[number] += 1
            total -= 1
    return [values[n] for n in instrument.item_numbers]


def _completed(rng, patient, instrument_id, occasion, label, when, total, **extra) -> Assessment:
    answers = _answers(rng, instrument_id, total, spare_items=(9,) if instrument_id == "phq9" else ())
    result = score(instrument_id, answers)
    return Assessment(
        patient=patient,
        instrument_id=instrument_id,
        instrument_version=result.instrument_version,
        plan_id="default",
        plan_version=1,
        occasion=occasion,
        occasion_label=label,
        due_at=when,
        expires_at=when + datetime.timedelta(days=7),
        status=Assessment.Status.COMPLETED,
        answers={str(n): v for n, v in enumerate(answers, start=1)},
        result=result.as_dict(),
        total=result.total,
        severity=result.severity or "",
        critical=result.critical,
        completed_at=when,
        **extra,
    )


def _clip(value: float, low: int, high: int) -> int:
    return int(max(low, min(high, round(value))))


def _course(rng, patient, end: datetime.datetime, rich: bool) -> list[Assessment]:
    """Baseline and end-of-course PHQ-9 and GAD-7 (and, for rich histories, the points between and after)."""
    start = end - datetime.timedelta(weeks=8)
    improvement = max(-0.3, min(0.95, rng.gauss(0.42, 0.28)))
    rows = []
    for instrument_id, mean, high in (("phq9", 17, 24), ("gad7", 13, 21)):
        baseline = _clip(rng.gauss(mean, 4), 6, high)
        final = _clip(baseline * (1 - improvement) + rng.gauss(0, 1.5), 0, high)
        rows.append(_completed(rng, patient, instrument_id, "baseline", "Baseline", start, baseline))
        if rich and instrument_id == "phq9":
            for n in (1, 2, 3):
                at = start + datetime.timedelta(weeks=2 * n, days=-2)
                value = _clip(baseline + (final - baseline) * n / 4 + rng.gauss(0, 1.5), 0, high)
                rows.append(
                    _completed(rng, patient, "phq9", f"pre_dosing_{n}", f"Before dosing session {n}", at, value)
                )
        rows.append(_completed(rng, patient, instrument_id, "end_of_course", "End of course", end, final))
        if rich:
            for months, days in ((1, 30), (3, 91)):
                at = end + datetime.timedelta(days=days)
                if at < timezone.now():
                    value = _clip(final + rng.gauss(0.5 * months, 2), 0, high)
                    rows.append(
                        _completed(
                            rng, patient, instrument_id, f"follow_up_{months}m", f"{months}-month follow-up", at, value
                        )
                    )
    return rows


def seed(*, practice, rng, progress: Callable[[str], None]) -> None:
    now = timezone.now()
    patients = practice.patients
    rows: list[Assessment] = []
    for index, patient in enumerate(patients):
        # Courses that ended between 3 weeks and 18 months ago, so follow-ups exist for some and not others.
        end = now - datetime.timedelta(days=rng.randint(21, 540), hours=rng.randint(0, 8))
        rows += _course(rng, patient, end, rich=index < RICH_HISTORIES)
        if len(rows) >= BATCH:
            Assessment.objects.bulk_create(rows)
            rows = []
            progress(f"questionnaires for {index + 1}/{len(patients)} patients")
    Assessment.objects.bulk_create(rows)

    # The portal patients each have a PHQ-9 and a GAD-7 waiting, so the portal and reminders show something.
    due = [
        Assessment(
            patient=patient,
            instrument_id=instrument_id,
            occasion="follow_up_6m",
            occasion_label="6-month follow-up",
            plan_id="default",
            plan_version=1,
            due_at=now - datetime.timedelta(hours=2),
            expires_at=now + datetime.timedelta(days=14),
        )
        for patient in patients[:PORTAL_PATIENTS]
        for instrument_id in ("phq9", "gad7")
    ]
    Assessment.objects.bulk_create(due)

    # One open critical alert, raised the way a real one is: through the service, from an endorsed item 9.
    if len(patients) > 1:
        flagged = services.assessment_create(actor=None, patient=patients[1], instrument_id="phq9", occasion="ad_hoc")
        answers = dict(enumerate([2, 2, 1, 2, 1, 2, 1, 0, 1], start=1))
        services.assessment_save_answers(actor=None, assessment=flagged, answers=answers, submit=True)
    progress(f"questionnaires: {Assessment.objects.count()} stored, 1 open critical alert")
