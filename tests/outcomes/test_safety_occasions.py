"""The outcomes report's long-term safety table names each occasion as it really was, never "Unscheduled"."""

import datetime

import pytest

from kapstone.measures.models import Assessment
from kapstone.outcomes.report import build_report
from tests.outcomes.factories import build_practice

pytestmark = pytest.mark.django_db


def safety_form(practice, occasion, label, completed, *, patient=0):
    Assessment.objects.create(
        patient=practice.patients[patient],
        group=practice.group,
        instrument_id="kset-followup",
        occasion=occasion,
        occasion_label=label,
        due_at=completed,
        status=Assessment.Status.COMPLETED,
        answers={str(n): int(n == 2) for n in range(1, 9)},
        result={"flags": ["urinary"]},
        total=1,
        completed_at=completed,
    )


def test_each_safety_occasion_is_named_by_what_it_was():
    practice = build_practice()
    noon = datetime.datetime(2025, 5, 1, 12, tzinfo=datetime.UTC)
    safety_form(practice, "long_term_safety_3", "Long-term safety check after dosing session 3", noon)
    safety_form(practice, "follow_up_1m", "1-month follow-up", noon)
    # Extra check-ins sent between the planned ones: an older row labelled "Unscheduled", and a newer one.
    safety_form(practice, Assessment.AD_HOC, "Unscheduled", noon + datetime.timedelta(days=3))
    safety_form(practice, Assessment.AD_HOC, Assessment.AD_HOC_LABEL, noon + datetime.timedelta(days=40), patient=1)
    # A practice's own plan occasion, and an older row that kept its code as its label.
    safety_form(practice, "follow_up_12m", "12-month follow-up", noon + datetime.timedelta(days=365))
    safety_form(practice, "between_sessions_2", "between_sessions_2", noon + datetime.timedelta(days=10))

    titles = [section.title for section in build_report().long_term_safety if section.unit == "forms"]

    assert not any("Unscheduled" in title for title in titles)
    assert titles == [
        "Long-term safety follow-up: After dosing session 3",
        "Long-term safety follow-up: 1-month follow-up",
        "Long-term safety follow-up: 12-month follow-up, completed 1 May 2026",
        "Long-term safety follow-up: Between sessions 2, completed 11 May 2025",
        "Long-term safety follow-up: Extra check-ins between the planned ones, completed 4 May 2025 to 10 Jun 2025",
    ]
