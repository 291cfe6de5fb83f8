"""Form rotation, the clock and the dosing-day rule, as pure functions (no database)."""

import datetime
import itertools
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapstone.creativity import protocol
from kapstone.creativity.originality import load_model

TZ = ZoneInfo("America/New_York")
START = datetime.datetime(2026, 3, 3, 10, 0, tzinfo=TZ)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_a_williams_design_balances_position_and_order(n):
    rows = protocol.williams_design(n)
    assert all(sorted(row) == list(range(n)) for row in rows)
    for position in range(n):
        counts = Counter(row[position] for row in rows)
        assert len(set(counts.values())) == 1 and len(counts) == n
    follows = Counter(pair for row in rows for pair in itertools.pairwise(row))
    assert len(follows) == n * (n - 1) and len(set(follows.values())) == 1


@given(st.integers(min_value=1, max_value=10**9))
def test_each_patient_meets_a_different_aut_form_at_every_occasion(patient_id):
    met = [protocol.form_for(patient_id=patient_id, occasion=o).id for o in protocol.occasion_ids()]
    assert len(set(met)) == len(met)


def test_forms_are_balanced_across_patients_at_each_occasion():
    patients = range(1, 1 + 10 * 7)  # seven full cycles of the design
    for occasion in protocol.occasion_ids():
        counts = Counter(protocol.form_for(patient_id=p, occasion=occasion).id for p in patients)
        assert set(counts) == {f.id for f in protocol.forms()}
        assert len(set(counts.values())) == 1


def test_every_form_uses_only_objects_the_originality_model_was_trained_on_and_no_object_twice():
    objects = [o.prompt for form in protocol.forms() for o in form.objects]
    assert len(objects) == len(set(objects))
    assert set(objects) <= set(load_model().prompts)
    assert not {"knife", "rope"} & set(objects)


def test_a_part_gives_way_to_the_next_at_its_deadline_and_the_task_closes_after_the_last():
    deadline = START + datetime.timedelta(minutes=3)
    clock = protocol.clock_at(part=0, part_deadline=deadline, parts=2, seconds=180, now=START)
    assert (clock.part, clock.closed, clock.seconds_left(START)) == (0, False, 180)
    later = START + datetime.timedelta(minutes=4)
    clock = protocol.clock_at(part=0, part_deadline=deadline, parts=2, seconds=180, now=later)
    assert clock.part == 1 and clock.part_deadline == START + datetime.timedelta(minutes=6) and not clock.closed
    assert clock.final_deadline(parts=2, seconds=180) == START + datetime.timedelta(minutes=6)
    gone = START + datetime.timedelta(hours=5)
    assert protocol.clock_at(part=0, part_deadline=deadline, parts=2, seconds=180, now=gone).closed


def test_answers_count_until_the_deadline_plus_a_short_grace():
    deadline = START + datetime.timedelta(minutes=3)
    grace = protocol.grace()
    assert protocol.accepts_answers(part_deadline=deadline, now=deadline + grace)
    assert not protocol.accepts_answers(part_deadline=deadline, now=deadline + grace + datetime.timedelta(seconds=1))


def test_a_dosing_day_is_blocked_from_midnight_to_a_full_day_after_the_session():
    session = [(START, START + datetime.timedelta(hours=3))]
    morning = START.replace(hour=7)
    until = protocol.dosing_block_until(session, at=morning, tz=TZ)
    assert until == START + datetime.timedelta(hours=27)  # 24 h after the session ended at 13:00
    next_morning = START + datetime.timedelta(hours=23)
    assert protocol.dosing_block_until(session, at=next_morning, tz=TZ) == until
    assert protocol.dosing_block_until(session, at=until, tz=TZ) is None
    assert protocol.dosing_block_until(session, at=START - datetime.timedelta(hours=11), tz=TZ) is None
    assert protocol.first_clear_time(session, at=morning, tz=TZ) == until


def test_a_late_evening_session_still_blocks_its_whole_calendar_day():
    evening = START.replace(hour=20)
    session = [(evening, evening + datetime.timedelta(hours=3))]
    assert protocol.dosing_block_until(session, at=START.replace(hour=6), tz=TZ) is not None
