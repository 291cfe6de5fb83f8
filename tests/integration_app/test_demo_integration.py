"""The demo practice's integration work: windows opened at the dose, and a mix of adherence like a practice's."""

from collections import Counter

import pytest
from django.db.models import F

from kapstone.dosing.models import DoseRecord
from kapstone.integration.models import IntegrationNote, IntegrationWindow
from kapstone.integration.window import Adherence
from kapstone.outcomes.selectors import adherence_frame


@pytest.fixture
def practice(db, demo_practice):
    return demo_practice


def test_every_given_dose_has_a_window_opened_when_it_was_given(practice):
    given = DoseRecord.objects.filter(administered_at__isnull=False)
    assert given.exists()
    assert IntegrationWindow.objects.count() == given.count()
    assert not IntegrationWindow.objects.exclude(opened_at=F("dosed_at")).exists()


def test_integration_work_is_mostly_within_48_hours_and_not_all_late(practice):
    counts = Counter(adherence_frame()["adherence"])
    assert counts[Adherence.LATE] < sum(counts.values())
    assert counts.most_common(1)[0][0] == Adherence.WITHIN_48H
    assert counts[Adherence.WITHIN_72H] + counts[Adherence.LATE] > 0


def test_session_notes_are_written_at_the_integration_session_that_follows_the_dose(practice):
    notes = IntegrationNote.objects.select_related("session")
    assert notes.exists()
    assert all(note.session.follows_dosing_id is not None and note.created_at == note.session.ends_at for note in notes)
