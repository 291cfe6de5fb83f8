"""Properties that must hold for every answer set, not just the ones a person thought to write down."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapstone.measures.scoring import InvalidAnswers, get_instrument, list_instruments, score

PHQ9 = get_instrument("phq9")
valid_phq9 = st.lists(st.integers(min_value=0, max_value=3), min_size=9, max_size=9)
not_a_whole_number = st.one_of(
    st.floats(allow_nan=True), st.text(max_size=3), st.booleans(), st.lists(st.integers(), max_size=1)
)


@given(valid_phq9)
def test_any_valid_phq9_scores_as_the_sum_in_a_band_that_contains_it(answers):
    result = score("phq9", answers)
    band = next(b for b in PHQ9.bands if b.name == result.severity)
    assert result.complete
    assert result.total == sum(answers)
    assert band.minimum <= result.total <= band.maximum
    assert ("suicidal_ideation" in result.flags) == (answers[8] > 0) == result.critical


@given(st.lists(st.integers(min_value=0, max_value=3), max_size=20).filter(lambda a: len(a) != 9))
def test_any_phq9_with_the_wrong_number_of_answers_is_rejected(answers):
    with pytest.raises(InvalidAnswers):
        score("phq9", answers)


@given(valid_phq9, st.integers(min_value=0, max_value=8), st.integers().filter(lambda v: not 0 <= v <= 3))
def test_any_phq9_with_an_out_of_range_answer_is_rejected(answers, position, bad):
    answers[position] = bad
    with pytest.raises(InvalidAnswers):
        score("phq9", answers)


@given(valid_phq9, st.integers(min_value=0, max_value=8), not_a_whole_number)
def test_any_phq9_with_an_answer_that_is_not_a_whole_number_is_rejected(answers, position, bad):
    answers[position] = bad
    with pytest.raises(InvalidAnswers):
        score("phq9", answers)


@given(st.one_of(st.none(), st.integers(), st.text(), st.dictionaries(st.text(), st.integers(), min_size=1)))
def test_anything_that_is_not_an_answer_list_or_item_mapping_is_rejected(answers):
    with pytest.raises(InvalidAnswers):
        score("phq9", answers)


@given(valid_phq9, st.sets(st.integers(min_value=0, max_value=8)))
def test_a_phq9_with_unanswered_items_never_has_a_total(answers, blanks):
    for position in blanks:
        answers[position] = None
    result = score("phq9", answers)
    assert result.complete == (not blanks)
    assert (result.total is None) == bool(blanks)


WITHOUT_SKIP_LOGIC = [
    instrument
    for instrument in list_instruments()
    if instrument.entry == "items" and not any(item.ask_only_if for item in instrument.items)
]


@pytest.mark.parametrize("instrument", WITHOUT_SKIP_LOGIC, ids=lambda i: i.id)
@given(data=st.data())
def test_any_in_range_answers_score_within_the_declared_total_range(instrument, data):
    answers = [
        data.draw(
            st.sampled_from([value for value, _ in item.responses.options])
            if item.responses.options
            else st.integers(min_value=item.responses.minimum, max_value=item.responses.maximum or 500)
        )
        for item in instrument.items
    ]
    result = score(instrument.id, answers)
    low, high = instrument.total_range
    assert result.complete and low <= result.total <= high
