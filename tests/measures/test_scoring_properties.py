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
    for rule in instrument.consistency:  # EDE-Q items 14 and 15 each count part of the item before
        answers[rule.item - 1] = min(answers[rule.item - 1], answers[rule.at_most_item - 1])
    result = score(instrument.id, answers)
    low, high = instrument.total_range
    assert result.complete and low <= result.total <= high


# --- GAD-7 --------------------------------------------------------------------------------------------------

GAD7 = get_instrument("gad7")
# clinical.md: minimal 0-4, mild 5-9, moderate 10-14, severe 15-21.
GAD7_BANDS = [(0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 21, "severe")]


@given(st.lists(st.integers(min_value=0, max_value=3), min_size=7, max_size=7))
def test_any_valid_gad7_is_the_sum_in_the_band_clinical_md_names(answers):
    result = score("gad7", answers)
    assert result.complete and result.total == sum(answers)
    assert result.severity == next(name for low, high, name in GAD7_BANDS if low <= result.total <= high)
    assert result.flags == () and not result.critical


# --- QIDS-SR16 ----------------------------------------------------------------------------------------------

# clinical.md: none 0-5, mild 6-10, moderate 11-15, severe 16-20, very severe 21-27.
QIDS_BANDS = [(0, 5, "none"), (6, 10, "mild"), (11, 15, "moderate"), (16, 20, "severe"), (21, 27, "very severe")]
valid_qids = st.lists(st.integers(min_value=0, max_value=3), min_size=16, max_size=16)


@given(valid_qids)
def test_any_valid_qids_scores_its_nine_domains_and_their_sum(answers):
    item = dict(enumerate(answers, start=1))
    result = score("qids-sr16", answers)
    # clinical.md: highest of 1-4 (sleep), item 5, highest of 6-9 (appetite/weight), items 10-14, highest of 15-16.
    expected = {
        "sleep": max(item[n] for n in (1, 2, 3, 4)),
        "sad_mood": item[5],
        "appetite_weight": max(item[n] for n in (6, 7, 8, 9)),
        "concentration": item[10],
        "self_view": item[11],
        "suicidal_ideation": item[12],
        "interest": item[13],
        "energy": item[14],
        "psychomotor": max(item[15], item[16]),
    }
    assert result.domains == expected
    assert result.total == sum(expected.values())
    assert result.severity == next(name for low, high, name in QIDS_BANDS if low <= result.total <= high)


@given(valid_qids)
def test_qids_item_12_flags_any_endorsement_and_is_critical_from_2(answers):
    result = score("qids-sr16", answers)
    assert ("suicidal_ideation" in result.flags) == (answers[11] > 0) == result.crisis_resources
    assert ("suicidal_ideation_high" in result.flags) == (answers[11] >= 2) == result.critical


# --- C-SSRS screener ----------------------------------------------------------------------------------------

yes_no = st.integers(min_value=0, max_value=1)


@st.composite
def cssrs_answers(draw) -> dict[int, int | None]:
    """Answers the screener's skip logic allows: Q3-Q5 only when Q2 is yes (else left blank)."""
    q1, q2, q6 = draw(yes_no), draw(yes_no), draw(yes_no)
    q3, q4, q5 = (draw(yes_no), draw(yes_no), draw(yes_no)) if q2 else (None, None, None)
    return {1: q1, 2: q2, 3: q3, 4: q4, 5: q5, 6: q6}


def expected_cssrs_risk(answers: dict[int, int | None]) -> str:
    # clinical.md: Q4, Q5 or recent Q6 = high; Q3 = moderate; Q1 or Q2 only = low.
    if any(answers[n] == 1 for n in (4, 5, 6)):
        return "high"
    if answers[3] == 1:
        return "moderate"
    if answers[1] == 1 or answers[2] == 1:
        return "low"
    return "none"


@given(cssrs_answers())
def test_the_cssrs_risk_follows_the_triage_rules_and_moderate_or_high_is_critical(answers):
    result = score("cssrs-screener", answers)
    assert result.complete and result.total is None
    assert result.risk == expected_cssrs_risk(answers)
    assert result.critical == (result.risk in {"moderate", "high"})
    assert ("recent_suicidal_behaviour" in result.flags) == (answers[6] == 1)


CSSRS_LEVELS = ["none", "low", "moderate", "high"]


@given(cssrs_answers(), st.sets(st.integers(min_value=1, max_value=6)))
def test_a_partial_cssrs_never_reads_a_higher_risk_than_the_finished_form(answers, blanked):
    # Why an alert raised on a partial save is safe to keep and only ever escalate: the partial level is a
    # lower bound of the level the finished answers give.
    partial = {n: (None if n in blanked else value) for n, value in answers.items()}
    partial_risk = score("cssrs-screener", partial).risk
    assert CSSRS_LEVELS.index(partial_risk) <= CSSRS_LEVELS.index(score("cssrs-screener", answers).risk)
