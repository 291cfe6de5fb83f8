"""Builders for measures tests (synthetic data only)."""

import datetime

from django.utils import timezone

from kapstone.measures import services
from kapstone.measures.models import Assessment, CriticalAlert


def due_assessment(patient, instrument_id="phq9", *, occasion="baseline", due_in_days=0, **extra) -> Assessment:
    now = timezone.now()
    return Assessment.objects.create(
        patient=patient,
        instrument_id=instrument_id,
        occasion=occasion,
        occasion_label=occasion.replace("_", " ").capitalize(),
        due_at=now + datetime.timedelta(days=due_in_days),
        expires_at=now + datetime.timedelta(days=due_in_days + 7),
        **extra,
    )


def invitation_token(patient, instrument_id="phq9") -> str:
    _, token = services.invitation_create(assessment=due_assessment(patient, instrument_id))
    return token


def open_alert(patient) -> CriticalAlert:
    assessment = due_assessment(patient)
    services.assessment_save_answers(actor=None, assessment=assessment, answers=PHQ9_ITEM9, submit=True)
    return CriticalAlert.objects.get(assessment=assessment)


def phq9(*values) -> dict[int, int]:
    return dict(enumerate(values, start=1))


PHQ9_ITEM9 = phq9(1, 1, 1, 1, 1, 1, 1, 1, 2)  # total 10, item 9 endorsed
PHQ9_MILD = phq9(1, 1, 1, 1, 1, 1, 0, 0, 0)  # total 6
