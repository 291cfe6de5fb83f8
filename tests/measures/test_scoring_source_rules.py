"""Every instrument shipped, scored by its source's rule for any answers (hypothesis): the total is the sum (or the
domains, means or percentage the source defines), every subscale is its items' score, a form with an item left blank
has no total (no instrument's source here allows prorating), and the severity bands tile the total range.

The expected rules below are written from the sources the instrument files cite (clinical.md restates them), not
read back from the YAML, so a changed file fails here."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapstone.measures.change import classify_change
from kapstone.measures.scoring import get_instrument, list_instruments, score, score_total

# Items and answer range per item-scored instrument, from its source (Kroenke 2001; Spitzer 2006; Weathers 2013;
# Foa 2002; Bremner 1998; Roseman 2019; Barrett 2015; the KSET-style form's eight yes/no items).
ITEMS = {
    "phq9": (9, 0, 3),
    "gad7": (7, 0, 3),
    "pcl5": (20, 0, 4),
    "oci-r": (18, 0, 4),
    "cadss": (23, 0, 4),
    "kset-followup": (8, 0, 1),
    "ebi": (6, 0, 100),
    "meq30": (30, 0, 5),
}
SUMMED = ("phq9", "gad7", "pcl5", "oci-r", "cadss", "kset-followup")
# Subscales as the sources key them.
PCL5_CLUSTERS = {"B": range(1, 6), "C": range(6, 8), "D": range(8, 15), "E": range(15, 21)}
OCIR_SUBSCALES = {
    "hoarding": (1, 7, 13),
    "checking": (2, 8, 14),
    "ordering": (3, 9, 15),
    "neutralizing": (4, 10, 16),
    "washing": (5, 11, 17),
    "obsessing": (6, 12, 18),
}
MEQ30_FACTORS = {
    "mystical": (4, 5, 6, 9, 14, 15, 16, 18, 20, 21, 23, 24, 25, 26, 28),
    "positive_mood": (2, 8, 12, 17, 27, 30),
    "transcendence": (1, 7, 11, 13, 19, 22),
    "ineffability": (3, 10, 29),
}
EDEQ_SUBSCALES = {
    "restraint": (1, 2, 3, 4, 5),
    "eating_concern": (7, 9, 19, 20, 21),
    "shape_concern": (6, 8, 10, 11, 23, 26, 27, 28),
    "weight_concern": (8, 12, 22, 24, 25),
}
# Bands as the manuals give them (clinical.md), inclusive at both ends.
BANDS = {
    "phq9": [(0, 4), (5, 9), (10, 14), (15, 19), (20, 27)],
    "gad7": [(0, 4), (5, 9), (10, 14), (15, 21)],
    "qids-sr16": [(0, 5), (6, 10), (11, 15), (16, 20), (21, 27)],
    "bdi-ii": [(0, 13), (14, 19), (20, 28), (29, 63)],
    "ham-a": [(0, 7), (8, 14), (15, 23), (24, 56)],
}
ENTERED_RANGES = {"bdi-ii": (0, 63), "ham-a": (0, 56), "y-bocs": (0, 40)}  # 21 x 0-3, 14 x 0-4, 10 x 0-4


def answers_for(instrument_id):
    count, low, high = ITEMS[instrument_id]
    return st.lists(st.integers(min_value=low, max_value=high), min_size=count, max_size=count)


@pytest.mark.parametrize("instrument_id", sorted(ITEMS))
def test_each_item_scored_instrument_has_the_sources_items_and_answer_range(instrument_id):
    count, low, high = ITEMS[instrument_id]
    instrument = get_instrument(instrument_id)
    assert len(instrument.items) == count
    assert {(item.responses.lowest, item.responses.highest) for item in instrument.items} == {(low, high)}


@pytest.mark.parametrize("instrument_id", SUMMED)
@given(data=st.data())
def test_a_summed_instrument_totals_the_sum_of_its_items(instrument_id, data):
    answers = data.draw(answers_for(instrument_id))
    result = score(instrument_id, answers)
    assert result.complete and result.total == sum(answers)


@given(answers_for("pcl5"))
def test_pcl5_clusters_are_the_sums_of_their_items_and_the_dsm5_pattern_follows_them(answers):
    item = dict(enumerate(answers, start=1))
    result = score("pcl5", answers)
    assert result.subscales == {name: sum(item[n] for n in numbers) for name, numbers in PCL5_CLUSTERS.items()}
    endorsed = {name: sum(item[n] >= 2 for n in numbers) for name, numbers in PCL5_CLUSTERS.items()}
    meets = endorsed["B"] >= 1 and endorsed["C"] >= 1 and endorsed["D"] >= 2 and endorsed["E"] >= 2
    assert ("provisional_ptsd_dsm5" in result.flags) == meets
    assert ("provisional_ptsd" in result.flags) == (sum(answers) >= 33)  # the default cut-point, top of 31-33


@given(answers_for("oci-r"))
def test_oci_r_subscales_are_sums_of_three_items_and_the_cutoff_is_21_or_more(answers):
    item = dict(enumerate(answers, start=1))
    result = score("oci-r", answers)
    assert result.subscales == {name: sum(item[n] for n in numbers) for name, numbers in OCIR_SUBSCALES.items()}
    assert ("above_cutoff" in result.flags) == (sum(answers) >= 21)


@given(answers_for("meq30"))
def test_meq30_factors_are_percent_of_maximum_and_complete_needs_60_on_every_factor(answers):
    item = dict(enumerate(answers, start=1))
    result = score("meq30", answers)
    exact = {
        name: Fraction(sum(item[n] for n in numbers) * 100, 5 * len(numbers)) for name, numbers in MEQ30_FACTORS.items()
    }
    for name, value in exact.items():
        assert result.subscales[name] == pytest.approx(float(value), abs=0.0501)
    assert result.total == pytest.approx(sum(answers) * 100 / 150, abs=0.0501)
    assert ("complete_mystical_experience" in result.flags) == all(value >= 60 for value in exact.values())


@given(st.lists(st.integers(min_value=0, max_value=6), min_size=28, max_size=28))
def test_ede_q_global_is_the_mean_of_the_four_subscale_means(answers):
    answers[12:18] = [0] * 6  # items 13-18 are counts, in no subscale
    item = dict(enumerate(answers, start=1))
    result = score("ede-q", answers)
    means = {name: Fraction(sum(item[n] for n in numbers), len(numbers)) for name, numbers in EDEQ_SUBSCALES.items()}
    for name, value in means.items():
        assert result.subscales[name] == pytest.approx(float(value), abs=0.00501)
    assert result.total == pytest.approx(float(sum(means.values()) / 4), abs=0.00501)


@given(answers_for("ebi"))
def test_ebi_is_the_mean_of_its_six_items(answers):
    assert score("ebi", answers).total == pytest.approx(sum(answers) / 6, abs=0.00501)


ITEM_SCORED = [i for i in list_instruments() if i.entry == "items" and i.method != "none"]


@pytest.mark.parametrize("instrument", ITEM_SCORED, ids=lambda i: i.id)
@given(data=st.data())
def test_a_form_with_an_asked_item_left_blank_has_no_total_on_any_instrument(instrument, data):
    """No source here allows prorating (Mirah and others count a PHQ-9 only when every item is answered)."""
    answers = [item.responses.lowest for item in instrument.items]
    either = {number for pair in instrument.answer_either for number in pair}
    blank = data.draw(st.sampled_from([item.number for item in instrument.items if item.number not in either]))
    answers[blank - 1] = None
    result = score(instrument.id, answers)
    assert not result.complete and result.total is None and result.severity is None


WITH_BANDS = [i for i in list_instruments() if i.bands]


@pytest.mark.parametrize("instrument", WITH_BANDS, ids=lambda i: i.id)
def test_the_bands_partition_the_total_range_with_no_gap_or_overlap(instrument):
    low, high = instrument.total_range
    for total in range(low, high + 1):
        assert sum(band.minimum <= total <= band.maximum for band in instrument.bands) == 1, total
    assert [(band.minimum, band.maximum) for band in instrument.bands] == BANDS[instrument.id]


def test_every_instrument_with_bands_is_checked_against_its_manual():
    assert {i.id for i in WITH_BANDS} == set(BANDS)


@pytest.mark.parametrize("instrument_id", sorted(ENTERED_RANGES))
@given(data=st.data())
def test_an_entered_total_is_accepted_across_its_range_in_the_band_the_manual_gives(instrument_id, data):
    low, high = ENTERED_RANGES[instrument_id]
    instrument = get_instrument(instrument_id)
    assert instrument.total_range == (low, high)
    total = data.draw(st.integers(min_value=low, max_value=high))
    items = {9: min(total, 3)} if instrument_id == "bdi-ii" else None
    result = score_total(instrument_id, total, items=items)
    expected = [index for index, (a, b) in enumerate(BANDS.get(instrument_id, [])) if a <= total <= b]
    assert result.total == total
    if expected:
        assert result.severity == instrument.bands[expected[0]].name
    else:
        assert result.severity is None  # Y-BOCS: no band until confirmed against Goodman 1989


CHANGE_INSTRUMENTS = [i for i in list_instruments() if i.definition.get("change")]


@pytest.mark.parametrize("instrument", CHANGE_INSTRUMENTS, ids=lambda i: i.id)
@given(data=st.data())
def test_response_is_a_fall_of_at_least_half_the_baseline(instrument, data):
    low, high = instrument.total_range
    baseline = data.draw(st.integers(min_value=low, max_value=high))
    follow_up = data.draw(st.integers(min_value=low, max_value=high))
    result = classify_change(instrument.id, baseline, follow_up)
    assert result["response"] == (baseline > 0 and 2 * (baseline - follow_up) >= baseline)


@given(st.integers(min_value=0, max_value=27), st.integers(min_value=0, max_value=27))
def test_remission_is_phq9_below_5_and_qids_5_or_less(baseline, follow_up):
    assert classify_change("phq9", baseline, follow_up)["remission"] == (follow_up < 5)
    assert classify_change("qids-sr16", baseline, follow_up)["remission"] == (follow_up <= 5)
