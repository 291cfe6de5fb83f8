"""Clinical-case probes of the scoring rules at their boundaries (audit against the clinical reference).

Each case is read from the instrument definitions' sources: band edges, domain maxima, cluster rules, skip
logic, critical items, change classification."""

import math

import pytest

from kapstone.measures import scoring
from kapstone.measures.change import classify_change, reliable_change_index


def _spread(total: int, count: int, top: int, *, fixed: dict[int, int] | None = None) -> dict[int, int]:
    """Answers to `count` items summing to `total`, each at most `top`, with `fixed` items set first."""
    fixed = fixed or {}
    answers = {n: 0 for n in range(1, count + 1)} | fixed
    left = total - sum(fixed.values())
    for number in answers:
        if number in fixed:
            continue
        answers[number] = min(top, left)
        left -= answers[number]
    assert left == 0
    return answers


PHQ9_BANDS = [
    (0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"), (14, "moderate"),
    (15, "moderately severe"), (19, "moderately severe"), (20, "severe"), (27, "severe"),
]  # fmt: skip


@pytest.mark.parametrize(("total", "band"), PHQ9_BANDS)
def test_phq9_band_edges(total, band):
    result = scoring.score("phq9", _spread(total, 9, 3, fixed={9: 0}) if total <= 24 else _spread(total, 9, 3))
    assert result.total == total and result.severity == band and result.complete


GAD7_BANDS = [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"), (14, "moderate"),
              (15, "severe"), (21, "severe")]  # fmt: skip


@pytest.mark.parametrize(("total", "band"), GAD7_BANDS)
def test_gad7_band_edges(total, band):
    result = scoring.score("gad7", _spread(total, 7, 3))
    assert result.total == total and result.severity == band


@pytest.mark.parametrize(("total", "item_9"), [(1, 1), (4, 1), (20, 2), (27, 3)])
def test_phq9_item_9_is_critical_at_any_total(total, item_9):
    result = scoring.score("phq9", _spread(total, 9, 3, fixed={9: item_9}))
    assert "suicidal_ideation" in result.flags and result.critical and result.crisis_resources


def test_phq9_item_9_zero_is_not_critical_even_when_severe():
    result = scoring.score("phq9", _spread(24, 9, 3, fixed={9: 0}))
    assert result.severity == "severe" and not result.critical and not result.flags


def test_phq9_item_9_alone_on_a_partial_save_is_critical_but_has_no_total():
    result = scoring.score("phq9", {9: 2})
    assert result.critical and result.total is None and result.severity is None and not result.complete


@pytest.mark.parametrize("bad", [7, 4, -1, 1.5, "2", True])
def test_phq9_refuses_answers_out_of_range_or_not_whole(bad):
    with pytest.raises(scoring.InvalidAnswers):
        scoring.score("phq9", _spread(5, 9, 3) | {3: bad})


def test_phq9_refuses_an_extra_item_and_a_short_list():
    with pytest.raises(scoring.InvalidAnswers):
        scoring.score("phq9", _spread(5, 9, 3) | {10: 0})
    with pytest.raises(scoring.InvalidAnswers):
        scoring.score("phq9", [0] * 8)


def _qids(**items: int) -> dict[int, int]:
    return {n: 0 for n in range(1, 17)} | {int(k[1:]): v for k, v in items.items()}


def test_qids_scores_the_highest_item_of_each_grouped_domain_not_their_sum():
    result = scoring.score("qids-sr16", _qids(i1=3, i2=3, i3=3, i4=3, i6=2, i7=3, i8=1, i9=0, i15=1, i16=2))
    assert result.domains["sleep"] == 3 and result.domains["appetite_weight"] == 3
    assert result.domains["psychomotor"] == 2 and result.total == 8


QIDS_BANDS = [(5, "none"), (6, "mild"), (10, "mild"), (11, "moderate"), (15, "moderate"), (16, "severe"),
              (20, "severe"), (21, "very severe"), (27, "very severe")]  # fmt: skip


@pytest.mark.parametrize(("total", "band"), QIDS_BANDS)
def test_qids_band_edges(total, band):
    # One item per domain, item 12 left at 0 unless the total needs all nine domains.
    domain_items = [1, 5, 6, 10, 11, 13, 14, 15, 12]
    answers = _qids()
    left = total
    for number in domain_items:
        answers[number] = min(3, left)
        left -= answers[number]
    result = scoring.score("qids-sr16", answers)
    assert result.total == total and result.severity == band


def test_qids_item_12_of_1_shows_crisis_lines_and_of_2_is_critical():
    one, two = scoring.score("qids-sr16", _qids(i12=1)), scoring.score("qids-sr16", _qids(i12=2))
    assert one.crisis_resources and not one.critical
    assert two.crisis_resources and two.critical


def _pcl5(values: dict[int, int]) -> dict[int, int]:
    return {n: 0 for n in range(1, 21)} | values


def test_pcl5_cluster_method_needs_1_b_1_c_2_d_2_e_each_rated_2_or_more():
    meets = _pcl5({1: 2, 6: 2, 8: 2, 9: 2, 15: 2, 16: 2})
    assert "provisional_ptsd_dsm5" in scoring.score("pcl5", meets).flags
    for missing in (1, 6, 8, 15):
        assert "provisional_ptsd_dsm5" not in scoring.score("pcl5", meets | {missing: 1}).flags
    # Four D items but no C item: the pattern needs every cluster.
    assert "provisional_ptsd_dsm5" not in scoring.score("pcl5", _pcl5({1: 4, 8: 4, 9: 4, 10: 4, 15: 4, 16: 4})).flags


@pytest.mark.parametrize(("total", "flagged"), [(32, False), (33, True)])
def test_pcl5_cut_off_defaults_to_33(total, flagged):
    result = scoring.score("pcl5", _spread(total, 20, 4))
    assert ("provisional_ptsd" in result.flags) is flagged


def test_pcl5_cut_off_follows_the_practice_setting_within_31_to_33():
    assert (
        "provisional_ptsd" in scoring.score("pcl5", _spread(31, 20, 4), settings={"provisional_ptsd_cutoff": 31}).flags
    )
    with pytest.raises(scoring.ScoringError):
        scoring.score("pcl5", _spread(31, 20, 4), settings={"provisional_ptsd_cutoff": 20})


def _cssrs(*values):
    return dict(enumerate(values, start=1))


@pytest.mark.parametrize(
    ("answers", "risk", "critical"),
    [
        (_cssrs(0, 0, None, None, None, 0), "none", False),
        (_cssrs(1, 0, None, None, None, 0), "low", False),
        (_cssrs(0, 1, 0, 0, 0, 0), "low", False),
        (_cssrs(1, 1, 1, 0, 0, 0), "moderate", True),
        (_cssrs(1, 1, 0, 1, 0, 0), "high", True),
        (_cssrs(1, 1, 0, 0, 1, 0), "high", True),
        (_cssrs(0, 0, None, None, None, 1), "high", True),
        (_cssrs(1, 1, 1, 1, 1, 1), "high", True),
    ],
)
def test_cssrs_triage(answers, risk, critical):
    result = scoring.score("cssrs-screener", answers)
    assert result.complete and result.risk == risk and result.critical is critical
    assert result.crisis_resources is (risk != "none")


def test_cssrs_q3_to_q5_are_not_asked_when_q2_is_no_and_a_yes_there_is_refused():
    assert scoring.score("cssrs-screener", _cssrs(1, 0, None, None, None, 0)).complete
    with pytest.raises(scoring.InvalidAnswers):
        scoring.score("cssrs-screener", _cssrs(0, 0, 0, 1, 0, 0))


def test_cssrs_q3_to_q5_are_required_when_q2_is_yes():
    result = scoring.score("cssrs-screener", _cssrs(0, 1, None, None, None, 0))
    assert not result.complete and set(result.missing_items) == {3, 4, 5}


BDI_BANDS = [(0, "minimal"), (13, "minimal"), (14, "mild"), (19, "mild"), (20, "moderate"), (28, "moderate"),
             (29, "severe"), (63, "severe")]  # fmt: skip


@pytest.mark.parametrize(("total", "band"), BDI_BANDS)
def test_bdi_ii_entered_total_band_edges(total, band):
    assert scoring.score_total("bdi-ii", total, items={9: max(0, total - 60)}).severity == band


HAMA_BANDS = [(0, "no or minimal"), (7, "no or minimal"), (8, "mild"), (14, "mild"), (15, "moderate"),
              (23, "moderate"), (24, "severe"), (56, "severe")]  # fmt: skip


@pytest.mark.parametrize(("total", "band"), HAMA_BANDS)
def test_ham_a_entered_total_band_edges(total, band):
    assert scoring.score_total("ham-a", total).severity == band


@pytest.mark.parametrize(("instrument", "bad"), [("bdi-ii", 64), ("bdi-ii", -1), ("ham-a", 57), ("ham-a", 7.5)])
def test_licensed_totals_out_of_range_are_refused(instrument, bad):
    with pytest.raises(scoring.InvalidAnswers):
        scoring.score_total(instrument, bad, items={9: 0} if instrument == "bdi-ii" else None)


@pytest.mark.parametrize("instrument", ["bdi-ii", "ham-a", "y-bocs"])
def test_licensed_instruments_refuse_item_answers(instrument):
    with pytest.raises(scoring.InvalidAnswers):
        scoring.score(instrument, [0] * 21)


@pytest.mark.parametrize(("total", "flagged"), [(20, False), (21, True)])
def test_oci_r_cut_off_21(total, flagged):
    result = scoring.score("oci-r", _spread(total, 18, 4))
    assert ("above_cutoff" in result.flags) is flagged and result.total == total


def test_oci_r_subscales_are_three_items_each():
    result = scoring.score("oci-r", {n: 4 for n in range(1, 19)})
    assert result.total == 72 and all(value == 12 for value in result.subscales.values())


def test_ebi_is_the_mean_of_six_items_from_0_to_100():
    assert scoring.score("ebi", [100, 0, 50, 50, 25, 76]).total == pytest.approx(50.17)
    with pytest.raises(scoring.InvalidAnswers):
        scoring.score("ebi", [101, 0, 0, 0, 0, 0])


def _meq30_at(percent_by_factor: dict[str, int]) -> dict[int, int]:
    instrument = scoring.get_instrument("meq30")
    answers = {}
    for subscale in instrument.subscales:
        # Items 0-5; a factor at exactly p% of its maximum needs sum = p/100 * 5 * n.
        target = percent_by_factor[subscale.id] * 5 * len(subscale.items)
        assert target % 100 == 0
        left = target // 100
        for number in subscale.items:
            answers[number] = min(5, left)
            left -= answers[number]
    return answers


def test_meq30_complete_at_exactly_60_percent_on_every_factor_and_not_below():
    every_60 = {"mystical": 60, "positive_mood": 60, "transcendence": 60, "ineffability": 60}
    assert "complete_mystical_experience" in scoring.score("meq30", _meq30_at(every_60)).flags
    one_short = _meq30_at(every_60)
    ineffability = scoring.get_instrument("meq30").subscales[-1].items
    one_short[ineffability[0]] -= 1
    assert "complete_mystical_experience" not in scoring.score("meq30", one_short).flags


def test_cadss_total_is_23_items_0_to_4():
    assert scoring.score("cadss", [4] * 23).total == 92
    with pytest.raises(scoring.InvalidAnswers):
        scoring.score("cadss", [5] + [0] * 22)


@pytest.mark.parametrize(
    ("instrument", "baseline", "follow_up", "response"),
    [("phq9", 20, 10, True), ("phq9", 20, 11, False), ("qids-sr16", 16, 8, True), ("qids-sr16", 16, 9, False)],
)
def test_response_is_at_least_50_percent_reduction(instrument, baseline, follow_up, response):
    assert classify_change(instrument, baseline, follow_up)["response"] is response


@pytest.mark.parametrize(
    ("instrument", "follow_up", "remission"),
    [("phq9", 4, True), ("phq9", 5, False), ("qids-sr16", 5, True), ("qids-sr16", 6, False)],
)
def test_remission_thresholds(instrument, follow_up, remission):
    assert classify_change(instrument, 20, follow_up)["remission"] is remission


def test_rci_formula_matches_jacobson_truax():
    sd, r = 5.0, 0.89
    expected = (8 - 18) / (math.sqrt(2) * sd * math.sqrt(1 - r))
    assert reliable_change_index(18, 8, sd=sd, reliability=r) == pytest.approx(expected)
    result = classify_change("phq9", 18, 8, sd=sd)
    assert result["reliable_change_method"] == "jacobson_truax" and result["reliable_improvement"]


@pytest.mark.parametrize(
    ("instrument", "baseline", "follow_up", "reliable"),
    [("phq9", 15, 9, True), ("phq9", 15, 10, False), ("gad7", 12, 8, True), ("gad7", 12, 9, False)],
)
def test_iapt_fixed_reliable_improvement_thresholds(instrument, baseline, follow_up, reliable):
    result = classify_change(instrument, baseline, follow_up)
    assert result["reliable_change_method"] == "fixed_threshold"
    assert result["reliable_improvement"] is reliable


@pytest.mark.parametrize(
    ("instrument", "total", "case"), [("phq9", 9, False), ("phq9", 10, True), ("gad7", 7, False), ("gad7", 8, True)]
)
def test_iapt_caseness(instrument, total, case):
    assert classify_change(instrument, total, 0)["baseline_caseness"] is case


@pytest.mark.parametrize(
    ("total", "item_9", "ok"),
    [(0, 0, True), (0, 1, False), (2, 3, False), (3, 3, True), (60, 0, True), (61, 0, False), (63, 3, True),
     (63, 2, False), (62, 2, True)],
)  # fmt: skip
def test_a_bdi_ii_total_must_hold_the_item_9_entered_beside_it(total, item_9, ok):
    """[beck-1996] The total adds up 21 items rated 0-3, item 9 among them: it is at least item 9 and at most item 9
    plus 20 items at 3."""
    if ok:
        assert scoring.score_total("bdi-ii", total, items={9: item_9}).total == total
    else:
        with pytest.raises(scoring.InvalidAnswers):
            scoring.score_total("bdi-ii", total, items={9: item_9})
