"""Second clinical audit of the questionnaires against their published sources: one test per finding.

Findings that changed Kapstone (EDE-Q binge counts, QIDS-SR16 reliability, the report's remission label) come first;
then the rules the audit checked at their edges and found right, kept so a later edit cannot quietly break them."""

import math

import pandas as pd
import pytest

from kapstone.measures import scoring, services
from kapstone.measures.change import classify_change
from kapstone.measures.forms import QuestionnaireForm
from kapstone.measures.models import Assessment
from kapstone.measures.scoring import InstrumentDefinitionError, InvalidAnswers, get_instrument, parse_instrument, score
from kapstone.outcomes.report import _change_rates
from tests.measures.factories import due_assessment


def _ede_q(**counts: int) -> list[int]:
    """An EDE-Q with every rated item at 0 and the count items (13-18) as given (`i13=4`)."""
    answers = [0] * 28
    for key, value in counts.items():
        answers[int(key[1:]) - 1] = value
    return answers


# --- findings fixed ---------------------------------------------------------------------------------------------


def test_ede_q_item_14_cannot_count_more_loss_of_control_times_than_item_13s_times():
    """[fairburn-2008] item 14 asks on how many of 'these times' (item 13's) control was lost: 14 > 13 contradicts."""
    assert score("ede-q", _ede_q(i13=4, i14=4, i15=2)).reports["objective_binge_episodes"] == 4
    with pytest.raises(InvalidAnswers, match=r"Item 14 \(5\) cannot be more than item 13 \(4\)"):
        score("ede-q", _ede_q(i13=4, i14=5))
    assert get_instrument("ede-q").version == 3  # the content changed, so the definition's version did


def test_ede_q_item_15_cannot_count_more_binge_days_than_item_14_episodes():
    """[fairburn-2008] item 15 counts the days on which item 14's episodes occurred; each day holds one or more."""
    with pytest.raises(InvalidAnswers, match=r"Item 15 \(3\) cannot be more than item 14 \(2\)"):
        score("ede-q", _ede_q(i13=6, i14=2, i15=3))
    with pytest.raises(InvalidAnswers, match="Item 15"):
        score("ede-q", _ede_q(i13=6, i14=0, i15=1))  # days with binges but no binge
    assert score("ede-q", _ede_q(i13=6, i14=6, i15=6)).complete


def test_ede_q_counts_are_compared_only_once_both_are_answered():
    partial = dict(enumerate(_ede_q(i14=9), start=1)) | {13: None}
    result = score("ede-q", partial)
    assert not result.complete and result.missing_items == (13,) and result.total is None


@pytest.mark.parametrize(
    "rule",
    [
        {"item": 2, "at_most_item": 1, "message": "m"},  # no source
        {"item": 3, "at_most_item": 1, "message": "m", "source": "s"},  # no item 3
        {"item": 1, "at_most_item": 1, "message": "m", "source": "s"},  # an item against itself
    ],
)
def test_the_loader_refuses_a_consistency_rule_it_could_not_apply(rule):
    raw = {
        "id": "toy", "name": "Toy", "short_name": "Toy", "version": 1, "entry": "items", "licence": {},
        "citation": "c", "administration": {"timing": "any"},
        "scoring": {"method": "sum", "total_range": [0, 2]},
        "response_sets": {"yn": {"options": [{"value": 0, "label": "No"}, {"value": 1, "label": "Yes"}]}},
        "items": [{"number": 1, "responses": "yn", "text": "a"}, {"number": 2, "responses": "yn", "text": "b"}],
        "consistency": [rule],
    }  # fmt: skip
    with pytest.raises(InstrumentDefinitionError, match="consistency"):
        parse_instrument(raw, "toy")


def test_qids_reliable_change_uses_rush_2003_alpha_with_the_practice_sd():
    """[rush-2003] QIDS-SR16 Cronbach's alpha .86; Jacobson & Truax S_diff = sqrt(2) x SD x sqrt(1 - r)."""
    result = classify_change("qids-sr16", 16, 8, sd=4)
    expected = (8 - 16) / (math.sqrt(2) * 4 * math.sqrt(1 - 0.86))
    assert result["reliable_change_method"] == "jacobson_truax" and result["reliability"] == 0.86
    assert result["rci"] == round(expected, 3) and result["reliable_improvement"] is True
    # 16 -> 12: RCI about -1.89, inside +-1.96, so not reliable.
    assert classify_change("qids-sr16", 16, 12, sd=4)["reliable_improvement"] is False
    # Without the practice's SD there is still no judgement: the QIDS-SR16 has no cited fixed threshold.
    assert classify_change("qids-sr16", 16, 8)["reliable_change_method"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("instrument_id", "label"),
    [
        ("phq9", "Remission (end-of-course total below 5)"),
        ("qids-sr16", "Remission (end-of-course total of 5 or less)"),
    ],
)
def test_the_outcomes_report_names_each_instruments_remission_threshold(instrument_id, label):
    pairs = pd.DataFrame({"total_baseline": [20.0, 20.0, 20.0], "total_end": [4.0, 5.0, 6.0]})
    rates = dict(_change_rates(instrument_id, pairs)[0])
    expected = {"phq9": 1, "qids-sr16": 2}[instrument_id]  # PHQ-9 below 5: 4; QIDS-SR16 5 or less: 4 and 5
    assert rates[label].count == expected


# --- checked at their edges and found right -----------------------------------------------------------------

# id: (items, lowest answer, highest answer, total range) from each definition's cited source.
SHAPES = {
    "phq9": (9, 0, 3, (0, 27)),  # kroenke-2001
    "gad7": (7, 0, 3, (0, 21)),  # spitzer-2006
    "pcl5": (20, 0, 4, (0, 80)),  # weathers-2013
    "qids-sr16": (16, 0, 3, (0, 27)),  # rush-2003
    "oci-r": (18, 0, 4, (0, 72)),  # foa-2002
    "meq30": (30, 0, 5, (0, 100)),  # barrett-2015 (percent of maximum)
    "cadss": (23, 0, 4, (0, 92)),  # bremner-1998 (23 subjective items)
    "ebi": (6, 0, 100, (0, 100)),  # roseman-2019
    "cssrs-screener": (6, 0, 1, None),  # cssrs-screener: a triage, no total
}


@pytest.mark.parametrize("instrument_id", sorted(SHAPES))
def test_item_count_answer_range_and_total_range_match_the_source(instrument_id):
    count, low, high, total_range = SHAPES[instrument_id]
    instrument = get_instrument(instrument_id)
    assert len(instrument.items) == count
    assert {(item.responses.lowest, item.responses.highest) for item in instrument.items} == {(low, high)}
    assert instrument.total_range == (None if total_range is None else tuple(total_range))


@pytest.mark.parametrize(
    ("instrument_id", "total_range"), [("bdi-ii", (0, 63)), ("ham-a", (0, 56)), ("y-bocs", (0, 40))]
)
def test_licensed_totals_take_the_range_of_their_items(instrument_id, total_range):
    """[beck-1996] 21 x 0-3; [hamilton-1959] 14 x 0-4; [goodman-1989] 10 x 0-4."""
    assert get_instrument(instrument_id).total_range == total_range
    with pytest.raises(InvalidAnswers):
        scoring.score_total(instrument_id, total_range[1] + 1, items={9: 0} if instrument_id == "bdi-ii" else None)


@pytest.mark.parametrize("instrument_id", ["phq9", "gad7", "pcl5", "oci-r", "cadss"])
def test_no_item_is_reverse_scored(instrument_id):
    """None of these sources reverses an item: each item adds its own answer to the total."""
    instrument = get_instrument(instrument_id)
    for item in instrument.items:
        answers = {n: 0 for n in instrument.item_numbers} | {item.number: item.responses.highest}
        assert score(instrument_id, answers).total == item.responses.highest


@pytest.mark.parametrize(("instrument_id", "count"), [("phq9", 9), ("gad7", 7)])
def test_one_unanswered_item_leaves_phq9_and_gad7_without_a_total(instrument_id, count):
    """No cited source gives a prorating rule, so an incomplete form gets no total and no band (clinical.md: others
    count a PHQ-9 only when every item is answered)."""
    for blank in range(1, count + 1):
        answers = {n: 3 for n in range(1, count + 1)} | {blank: None}
        result = score(instrument_id, answers)
        assert (result.complete, result.total, result.severity, result.missing_items) == (False, None, None, (blank,))


def test_a_qids_with_one_sleep_item_blank_has_no_total_but_item_12_still_alerts():
    answers = {n: 1 for n in range(1, 17)} | {3: None, 12: 2}
    result = score("qids-sr16", answers)
    assert result.total is None and result.domains["sleep"] is None and result.domains["psychomotor"] == 1
    assert result.critical and "suicidal_ideation_high" in result.flags


@pytest.mark.parametrize(
    ("blank", "appetite_weight", "complete"),
    [
        ((7, 9), 2, True),  # decreased appetite and weight answered, as the form asks
        ((6, 8), 3, True),  # increased appetite and weight answered
        ((7, 8), 3, True),
        ((), 3, True),  # all four answered (the portal shows each): the highest counts
        ((6, 7), None, False),  # neither appetite item: the domain is missing
        ((8, 9), None, False),
    ],
)
def test_a_qids_answers_either_appetite_item_and_either_weight_item(blank, appetite_weight, complete):
    """[rush-2003] QIDS-SR16 form: complete either 6 or 7, and either 8 or 9; the domain is the highest answered."""
    answers = {n: 1 for n in range(1, 17)} | {6: 2, 7: 0, 8: 1, 9: 3} | {number: None for number in blank}
    result = score("qids-sr16", answers)
    assert result.domains["appetite_weight"] == appetite_weight
    assert result.complete is complete
    assert result.total == (8 + appetite_weight if complete else None)  # the other eight domains answer 1


def test_the_form_says_which_qids_items_are_either_or():
    form = QuestionnaireForm(instrument=get_instrument("qids-sr16"))
    assert form.fields["item_6"].help_text == "Answer either question 6 or question 7, not both."
    assert form.fields["item_9"].help_text == "Answer either question 8 or question 9, not both."


@pytest.mark.parametrize(
    ("subscale", "items"),
    [("washing", [5, 11, 17]), ("obsessing", [6, 12, 18]), ("hoarding", [1, 7, 13]), ("ordering", [3, 9, 15]),
     ("checking", [2, 8, 14]), ("neutralizing", [4, 10, 16])],
)  # fmt: skip
def test_each_oci_r_subscale_holds_exactly_foas_three_items(subscale, items):
    result = score("oci-r", {n: (4 if n in items else 0) for n in range(1, 19)})
    assert result.subscales == {name: (12 if name == subscale else 0) for name in result.subscales}


def test_ede_q_item_8_counts_in_both_shape_and_weight_concern():
    """[fairburn-2008] item 8 (preoccupation with shape or weight) is in both subscales; global = mean of the four."""
    answers = [0] * 28
    answers[7] = 6
    result = score("ede-q", answers)
    assert result.subscales == {"restraint": 0, "eating_concern": 0, "shape_concern": 0.75, "weight_concern": 1.2}
    assert result.total == 0.49  # (0 + 0 + 0.75 + 1.2) / 4 = 0.4875, reported half up


def test_cssrs_recent_behaviour_is_high_risk_even_when_question_2_is_no():
    high = score("cssrs-screener", {1: 0, 2: 0, 3: None, 4: None, 5: None, 6: 1})
    assert (high.risk, high.critical, high.complete) == ("high", True, True)
    wish_only = score("cssrs-screener", {1: 1, 2: 0, 3: None, 4: None, 5: None, 6: 0})
    assert (wish_only.risk, wish_only.critical, wish_only.crisis_resources) == ("low", False, True)


@pytest.mark.parametrize(("points", "follow_up", "reliable"), [(10, 25, True), (10, 26, False), (5, 30, True)])
def test_pcl5_reliable_change_follows_the_practice_points_within_5_to_10(points, follow_up, reliable):
    """[ncptsd-pcl5] a change of 5-10 points is reliable; the practice picks the point in that range."""
    result = classify_change("pcl5", 35, follow_up, settings={"reliable_change_points": points})
    assert result["reliable_change_method"] == "fixed_threshold" and result["reliable_improvement"] is reliable


def test_gad7_reliable_change_index_uses_spitzers_alpha():
    """[spitzer-2006] alpha .92 in S_diff = sqrt(2) x SD x sqrt(1 - r); reliable only when |RCI| > 1.96."""
    result = classify_change("gad7", 15, 10, sd=4)
    assert result["reliability"] == 0.92
    assert result["rci"] == round(-5 / (math.sqrt(2) * 4 * math.sqrt(0.08)), 3)
    assert result["reliable_improvement"] is True


@pytest.mark.parametrize(("follow_up", "response"), [(7, True), (8, False)])
def test_response_at_an_odd_baseline_needs_at_least_half_gone(follow_up, response):
    """[response-remission-convention] at least 50%: 15 -> 7 is 53%, 15 -> 8 is 47%."""
    assert classify_change("phq9", 15, follow_up)["response"] is response


@pytest.mark.django_db
def test_contradictory_ede_q_counts_are_refused_by_the_service_and_nothing_is_stored(cast):
    assessment = due_assessment(cast.alice, "ede-q")
    answers = dict(enumerate(_ede_q(i13=2, i14=3), start=1))
    with pytest.raises(InvalidAnswers, match="Item 14"):
        services.assessment_save_answers(actor=cast.bob, assessment=assessment, answers=answers, submit=True)
    assessment.refresh_from_db()
    assert (assessment.status, assessment.answers, assessment.total) == (Assessment.Status.DUE, {}, None)
