"""Pseudonyms, date shifts and ages for the research export."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapstone.outcomes.deidentify import date_shift_days, pseudonym, top_coded_age


def test_a_pseudonym_is_stable_for_one_key_and_differs_under_another():
    assert pseudonym("key-a", 42) == pseudonym("key-a", 42)
    assert pseudonym("key-a", 42) != pseudonym("key-b", 42)
    assert pseudonym("key-a", 42) != pseudonym("key-a", 43)
    assert pseudonym("key-a", 42).startswith("R-") and len(pseudonym("key-a", 42)) == 18


def test_an_empty_key_is_refused():
    with pytest.raises(ValueError, match="KAPSTONE_RESEARCH_ID_KEY"):
        pseudonym("", 1)


@given(st.integers(min_value=1, max_value=10**9), st.text(min_size=1, max_size=30))
def test_the_date_shift_is_never_zero_or_one_day_and_at_most_180(patient_id, key):
    days = date_shift_days(key, patient_id)
    assert 2 <= abs(days) <= 180
    assert days == date_shift_days(key, patient_id)


def test_date_shifts_spread_over_the_whole_range():
    shifts = {date_shift_days("spread", n) for n in range(5000)}
    assert min(shifts) == -180 and max(shifts) == 180
    assert len(shifts) == 358


def test_the_shift_is_not_the_pseudonym_in_disguise():
    # Two different purposes under the key: knowing one does not give the other.
    same_shift = [n for n in range(2000) if date_shift_days("k", n) == date_shift_days("k", 0)]
    assert len({pseudonym("k", n) for n in same_shift}) == len(same_shift)


@pytest.mark.parametrize(("age", "expected"), [(34, 34), (89, 89), (90, 90), (97, 90), (None, None)])
def test_ages_over_89_are_reported_as_90(age, expected):
    assert top_coded_age(age) == expected
