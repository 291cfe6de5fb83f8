"""The scoring engine against the manuals' rules (clinical.md), one instrument at a time."""

import copy

import pytest
import yaml

from kapstone.measures.scoring import (
    INSTRUMENTS_DIR,
    InstrumentDefinitionError,
    InvalidAnswers,
    InvalidSetting,
    UnknownInstrument,
    get_instrument,
    list_instruments,
    parse_instrument,
    score,
    score_total,
)


def answers_with_total(total: int, *, items: int, highest: int) -> list[int]:
    """Answers that add up to `total`, filling items from the first."""
    answers = []
    for _ in range(items):
        answers.append(min(highest, total))
        total -= answers[-1]
    assert total == 0
    return answers


# QIDS-SR16: one item from each of the nine domains, so the total is simply the sum of these items.
QIDS_ONE_ITEM_PER_DOMAIN = [1, 5, 6, 10, 11, 12, 13, 14, 15]


def qids_answers_with_total(total: int) -> list[int]:
    answers = [0] * 16
    for number, value in zip(QIDS_ONE_ITEM_PER_DOMAIN, answers_with_total(total, items=9, highest=3), strict=True):
        answers[number - 1] = value
    return answers


# --- the library ------------------------------------------------------------------------------------------


def test_it_loads_every_instrument_the_practice_uses():
    ids = {instrument.id for instrument in list_instruments()}
    assert ids == {
        "phq9", "gad7", "pcl5", "qids-sr16", "cssrs-screener", "oci-r", "ede-q", "ebi", "meq30", "cadss",
        "bdi-ii", "ham-a", "y-bocs", "kset-followup",
    }  # fmt: skip


def test_it_refuses_an_unknown_instrument_with_the_known_ones_listed():
    with pytest.raises(UnknownInstrument, match="phq9"):
        get_instrument("phq-10")


@pytest.mark.parametrize("instrument", list_instruments(), ids=lambda i: i.id)
def test_every_definition_carries_a_version_licence_and_citation(instrument):
    assert instrument.version >= 1
    assert instrument.definition["licence"]["status"]
    assert instrument.definition["citation"].strip()


@pytest.mark.parametrize("instrument", list_instruments(), ids=lambda i: i.id)
def test_every_clinical_rule_names_its_source(instrument):
    definition = instrument.definition
    rules = [*definition.get("flags", []), definition["scoring"], *definition.get("settings", {}).values()]
    if instrument.bands:
        rules.append(definition["severity"])
    if instrument.risk:
        rules.append(definition["risk"])
    change = definition.get("change", {})
    rules += [change[key] for key in ("response", "remission", "caseness") if key in change]
    rules += [
        spec for spec in change.get("reliable_change", {}).values() if isinstance(spec, dict) and spec.get("value")
    ]
    assert all(rule.get("source") for rule in rules)


@pytest.mark.parametrize("instrument", list_instruments(), ids=lambda i: i.id)
def test_item_text_appears_only_where_the_licence_allows_it(instrument):
    reproduced = instrument.definition["licence"]["text_reproduced"]
    assert all((item.text is not None) == reproduced for item in instrument.items)


@pytest.mark.parametrize("instrument_id", ["bdi-ii", "ham-a", "y-bocs"])
def test_licensed_instruments_are_totals_only_with_no_items(instrument_id):
    instrument = get_instrument(instrument_id)
    assert instrument.entry == "total_only"
    assert instrument.items == ()


@pytest.mark.parametrize(
    "instrument", [i for i in list_instruments() if i.entry == "items" and i.method != "none"], ids=lambda i: i.id
)
def test_the_declared_total_range_is_what_the_items_can_produce(instrument):
    lowest = [item.responses.lowest for item in instrument.items]
    # Count items (EDE-Q 13-18) have no maximum and are not part of the total: use their lowest answer.
    highest = [item.responses.highest if item.responses.highest is not None else 0 for item in instrument.items]
    assert (score(instrument.id, lowest).total, score(instrument.id, highest).total) == instrument.total_range


def test_phq9_puts_the_total_loinc_code_on_the_total_not_the_panel_code():
    loinc = get_instrument("phq9").definition["codes"]["loinc"]
    assert loinc["total"]["code"] == "44261-6"
    assert loinc["panel"]["code"] == "44249-1"
    assert loinc["items"][9]["code"] == "44260-8"


def test_the_gad7_panel_code_is_marked_unverified_as_clinical_md_asks():
    assert get_instrument("gad7").definition["codes"]["loinc"]["panel"]["verified"] is False


# --- severity bands at every edge -----------------------------------------------------------------------

PHQ9_EDGES = [
    (0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"), (14, "moderate"),
    (15, "moderately severe"), (19, "moderately severe"), (20, "severe"), (27, "severe"),
]  # fmt: skip
GAD7_EDGES = [
    (0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"), (14, "moderate"),
    (15, "severe"), (21, "severe"),
]  # fmt: skip
QIDS_EDGES = [
    (0, "none"), (5, "none"), (6, "mild"), (10, "mild"), (11, "moderate"), (15, "moderate"), (16, "severe"),
    (20, "severe"), (21, "very severe"), (27, "very severe"),
]  # fmt: skip
BDI_EDGES = [
    (0, "minimal"), (13, "minimal"), (14, "mild"), (19, "mild"), (20, "moderate"), (28, "moderate"),
    (29, "severe"), (63, "severe"),
]  # fmt: skip


@pytest.mark.parametrize(("total", "band"), PHQ9_EDGES)
def test_phq9_bands_follow_kroenke_at_each_edge(total, band):
    result = score("phq9", answers_with_total(total, items=9, highest=3))
    assert (result.total, result.severity) == (total, band)


@pytest.mark.parametrize(("total", "band"), GAD7_EDGES)
def test_gad7_bands_follow_spitzer_at_each_edge(total, band):
    result = score("gad7", answers_with_total(total, items=7, highest=3))
    assert (result.total, result.severity) == (total, band)


@pytest.mark.parametrize(("total", "band"), QIDS_EDGES)
def test_qids_bands_follow_rush_at_each_edge(total, band):
    result = score("qids-sr16", qids_answers_with_total(total))
    assert (result.total, result.severity) == (total, band)


@pytest.mark.parametrize(("total", "band"), BDI_EDGES)
def test_a_staff_entered_bdi_ii_total_gets_the_manual_band(total, band):
    result = score_total("bdi-ii", total)
    assert (result.total, result.severity, result.complete) == (total, band, True)


# --- PHQ-9 item 9 ---------------------------------------------------------------------------------------


def test_it_flags_phq9_item_9_even_when_the_total_is_minimal():
    result = score("phq9", [0, 0, 0, 0, 0, 0, 0, 0, 1])
    assert (result.total, result.severity) == (1, "minimal")
    assert result.flags == ("suicidal_ideation",)
    assert result.critical and result.crisis_resources


def test_it_raises_no_flag_for_a_severe_phq9_with_item_9_at_zero():
    result = score("phq9", [3, 3, 3, 3, 3, 3, 3, 3, 0])
    assert (result.total, result.severity, result.flags, result.critical) == (24, "severe", (), False)


def test_a_partial_phq9_has_no_total_but_still_raises_the_item_9_flag():
    result = score("phq9", [None] * 8 + [2])
    assert not result.complete
    assert (result.total, result.severity) == (None, None)
    assert result.missing_items == (1, 2, 3, 4, 5, 6, 7, 8)
    assert result.flags == ("suicidal_ideation",) and result.critical


def test_it_accepts_answers_keyed_by_item_number():
    result = score("phq9", {1: 2, 2: 2, 3: 1, 4: 1, 5: 0, 6: 0, 7: 0, 8: 0, 9: 0})
    assert (result.total, result.complete) == (6, True)


def test_a_mapping_that_leaves_items_out_is_a_partial_save():
    assert score("phq9", {1: 2}).missing_items == (2, 3, 4, 5, 6, 7, 8, 9)


# --- invalid answers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ([0] * 8, "has 9 items; got 8"),
        ([0] * 10, "has 9 items; got 10"),
        ([0] * 8 + [4], "Item 9: 4 is out of range"),
        ([-1] + [0] * 8, "Item 1: -1 is out of range"),
        ([0] * 8 + [1.0], "not a whole number"),
        (["1"] + [0] * 8, "not a whole number"),
        ([True] + [0] * 8, "not a whole number"),
        ("1,0,0,0,0,0,0,0,0", "must be a list"),
        ({10: 1}, "there is no item 10"),
        ({True: 1}, "there is no item True"),
    ],
)
def test_it_rejects_invalid_phq9_answers_with_a_clear_message(answers, message):
    with pytest.raises(InvalidAnswers, match=message):
        score("phq9", answers)


def test_a_licensed_instrument_refuses_item_answers():
    with pytest.raises(InvalidAnswers, match="total entered by staff"):
        score("bdi-ii", [0] * 21)


@pytest.mark.parametrize("total", [-1, 64, 23.5, "23", True, None])
def test_a_staff_entered_total_must_be_a_whole_number_in_range(total):
    with pytest.raises(InvalidAnswers):
        score_total("bdi-ii", total)


def test_an_item_instrument_refuses_a_bare_total():
    with pytest.raises(InvalidAnswers, match="scored from its items"):
        score_total("phq9", 12)


def test_totals_without_confirmed_bands_get_no_severity():
    assert score_total("y-bocs", 20).severity is None


@pytest.mark.parametrize(
    ("instrument_id", "total", "band"),
    [
        ("ham-a", 7, "no or minimal"),
        ("ham-a", 8, "mild"),
        ("ham-a", 23, "moderate"),
        ("ham-a", 24, "severe"),
        ("ham-a", 56, "severe"),
        ("bdi-ii", 13, "minimal"),
        ("bdi-ii", 19, "mild"),
        ("bdi-ii", 28, "moderate"),
        ("bdi-ii", 29, "severe"),
    ],
)
def test_entered_totals_take_their_cited_bands(instrument_id, total, band):
    # HAM-A: Matza 2010 cut-offs; BDI-II: the Beck 1996 manual.
    assert score_total(instrument_id, total).severity == band


@pytest.mark.parametrize(("item_9", "flagged"), [(0, False), (1, True), (3, True)])
def test_bdi_ii_item_9_beside_the_total_raises_the_suicide_flag(item_9, flagged):
    result = score_total("bdi-ii", 10, items={9: item_9})
    assert result.critical is flagged and ("suicidal_ideation" in result.flags) is flagged


@pytest.mark.parametrize(("items", "message"), [({9: 4}, "from 0 to 3"), ({8: 1}, "no item 8"), ({9: True}, "True")])
def test_entered_items_outside_their_range_are_refused(items, message):
    with pytest.raises(InvalidAnswers, match=message):
        score_total("bdi-ii", 10, items=items)


# --- PCL-5 ----------------------------------------------------------------------------------------------


def pcl5_answers(**endorsed: list[int]) -> list[int]:
    answers = [0] * 20
    for numbers in endorsed.values():
        for number in numbers:
            answers[number - 1] = 2
    return answers


def test_pcl5_cluster_scores_sum_the_dsm5_item_groups():
    result = score("pcl5", list(range(1, 5)) + [4] + [3, 3] + [1] * 7 + [2] * 6)
    assert result.subscales == {"B": 1 + 2 + 3 + 4 + 4, "C": 6, "D": 7, "E": 12}
    assert result.total == 14 + 6 + 7 + 12


def test_pcl5_meets_the_dsm5_rule_with_1_b_1_c_2_d_2_e_items_at_moderately():
    result = score("pcl5", pcl5_answers(b=[1], c=[7], d=[8, 14], e=[15, 20]))
    assert result.total == 12
    assert result.flags == ("provisional_ptsd_dsm5",)


@pytest.mark.parametrize(
    "endorsed",
    [
        {"c": [6], "d": [8, 9], "e": [15, 16]},  # no B
        {"b": [1], "d": [8, 9], "e": [15, 16]},  # no C
        {"b": [1], "c": [6], "d": [8], "e": [15, 16]},  # one D
        {"b": [1], "c": [6], "d": [8, 9], "e": [15]},  # one E
    ],
)
def test_pcl5_misses_the_dsm5_rule_when_a_cluster_is_short(endorsed):
    assert "provisional_ptsd_dsm5" not in score("pcl5", pcl5_answers(**endorsed)).flags


def test_pcl5_counts_only_items_rated_2_or_more_as_endorsed():
    answers = pcl5_answers(b=[1], c=[6], d=[8, 9], e=[15, 16])
    answers[0] = 1
    assert "provisional_ptsd_dsm5" not in score("pcl5", answers).flags


@pytest.mark.parametrize(("total", "flagged"), [(32, False), (33, True)])
def test_pcl5_provisional_ptsd_uses_the_default_cut_point_of_33(total, flagged):
    result = score("pcl5", answers_with_total(total, items=20, highest=4))
    assert ("provisional_ptsd" in result.flags) is flagged
    assert result.settings == {"provisional_ptsd_cutoff": 33, "reliable_change_points": 10}


def test_a_practice_can_lower_the_pcl5_cut_point_to_31():
    answers = answers_with_total(31, items=20, highest=4)
    assert "provisional_ptsd" not in score("pcl5", answers).flags
    assert "provisional_ptsd" in score("pcl5", answers, settings={"provisional_ptsd_cutoff": 31}).flags


@pytest.mark.parametrize("settings", [{"provisional_ptsd_cutoff": 30}, {"provisional_ptsd_cutoff": "31"}, {"x": 1}])
def test_it_refuses_a_setting_outside_the_published_range(settings):
    with pytest.raises(InvalidSetting):
        score("pcl5", [0] * 20, settings=settings)


# --- QIDS-SR16 ------------------------------------------------------------------------------------------


def test_qids_scores_only_the_highest_sleep_item():
    result = score("qids-sr16", [1, 3, 2, 3] + [0] * 12)
    assert result.domains["sleep"] == 3
    assert result.total == 3


def test_qids_scores_the_highest_of_appetite_and_weight_and_of_the_psychomotor_pair():
    answers = [0] * 16
    answers[5:9] = [2, 2, 1, 0]  # decreased and increased appetite, weight
    answers[14:16] = [1, 3]
    result = score("qids-sr16", answers)
    assert (result.domains["appetite_weight"], result.domains["psychomotor"], result.total) == (2, 3, 5)


def test_qids_item_12_at_1_tells_the_care_team_but_is_not_critical():
    answers = [0] * 16
    answers[11] = 1
    result = score("qids-sr16", answers)
    assert result.flags == ("suicidal_ideation",)
    assert result.crisis_resources and not result.critical


def test_qids_item_12_at_2_or_more_is_critical():
    answers = [0] * 16
    answers[11] = 2
    result = score("qids-sr16", answers)
    assert result.flags == ("suicidal_ideation", "suicidal_ideation_high")
    assert result.critical


# --- C-SSRS screener ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "risk", "critical"),
    [
        ([0, 0, 0, 0, 0, 0], "none", False),
        ([1, 0, 0, 0, 0, 0], "low", False),
        ([0, 1, 0, 0, 0, 0], "low", False),
        ([1, 1, 1, 0, 0, 0], "moderate", True),
        ([1, 1, 1, 1, 0, 0], "high", True),
        ([1, 1, 0, 0, 1, 0], "high", True),
        ([0, 0, 0, 0, 0, 1], "high", True),
    ],
)
def test_cssrs_triage_follows_the_columbia_levels(answers, risk, critical):
    result = score("cssrs-screener", answers)
    assert (result.risk, result.critical, result.complete, result.total) == (risk, critical, True, None)


def test_cssrs_accepts_questions_3_to_5_left_blank_when_question_2_is_no():
    result = score("cssrs-screener", [1, 0, None, None, None, 0])
    assert (result.complete, result.risk, result.missing_items) == (True, "low", ())


def test_cssrs_rejects_a_yes_to_question_3_after_a_no_to_question_2():
    with pytest.raises(InvalidAnswers, match="Item 3 is asked only when item 2"):
        score("cssrs-screener", [1, 0, 1, 0, 0, 0])


def test_cssrs_needs_questions_3_to_5_when_question_2_is_yes():
    result = score("cssrs-screener", [1, 1, None, None, None, 0])
    assert not result.complete
    assert result.missing_items == (3, 4, 5)


def test_cssrs_shows_crisis_resources_for_any_yes_to_an_ideation_question():
    result = score("cssrs-screener", [1, 0, 0, 0, 0, 0])
    assert result.flags == ("suicidal_ideation",) and result.crisis_resources


def test_cssrs_recent_behaviour_is_critical_on_its_own():
    assert score("cssrs-screener", [0, 0, 0, 0, 0, 1]).flags == ("recent_suicidal_behaviour",)


# --- OCI-R ----------------------------------------------------------------------------------------------


def test_oci_r_scores_foas_six_subscales_for_a_known_answer_set():
    answers = [number % 5 for number in range(1, 19)]  # 1, 2, 3, 4, 0, 1, 2, ...
    result = score("oci-r", answers)
    assert result.subscales == {
        "washing": 0 + 1 + 2,  # items 5, 11, 17
        "obsessing": 1 + 2 + 3,  # items 6, 12, 18
        "hoarding": 1 + 2 + 3,  # items 1, 7, 13
        "ordering": 3 + 4 + 0,  # items 3, 9, 15
        "checking": 2 + 3 + 4,  # items 2, 8, 14
        "neutralizing": 4 + 0 + 1,  # items 4, 10, 16
    }
    assert result.total == 36
    assert result.flags == ("above_cutoff",)


@pytest.mark.parametrize(("total", "flagged"), [(20, False), (21, True)])
def test_oci_r_flags_totals_from_the_cut_off_of_21(total, flagged):
    assert ("above_cutoff" in score("oci-r", answers_with_total(total, items=18, highest=4)).flags) is flagged


# --- EDE-Q 6.0 ------------------------------------------------------------------------------------------


def test_ede_q_averages_each_subscale_and_the_global_score_is_their_mean():
    answers = [0] * 28
    for number, value in {
        1: 6, 2: 5, 3: 4, 4: 3, 5: 2,  # restraint: 20 / 5 = 4.0
        7: 0, 9: 1, 19: 0, 20: 1, 21: 0,  # eating concern: 2 / 5 = 0.4
        6: 3, 8: 2, 10: 1, 11: 0, 23: 4, 26: 5, 27: 6, 28: 0,  # shape concern: 21 / 8 = 2.625
        12: 3, 22: 1, 24: 0, 25: 4,  # weight concern, with item 8 again: 10 / 5 = 2.0
        13: 10, 14: 8, 15: 5, 16: 2, 17: 0, 18: 12,  # behaviour counts
    }.items():  # fmt: skip
        answers[number - 1] = value
    result = score("ede-q", answers)
    # Reported to 2 decimals, rounding half up: 2.625 -> 2.63; global (4 + 0.4 + 2.625 + 2) / 4 = 2.25625.
    assert result.subscales == {"restraint": 4.0, "eating_concern": 0.4, "shape_concern": 2.63, "weight_concern": 2.0}
    assert result.total == 2.26
    assert result.reports == {
        "large_eating_episodes": 10,
        "objective_binge_episodes": 8,
        "objective_binge_days": 5,
        "self_induced_vomiting": 2,
        "laxative_misuse": 0,
        "driven_exercise": 12,
    }


FHIR_INTEGER_MAX = 2147483647  # what a FHIR valueInteger holds; the EDE-Q gives the counts no maximum


@pytest.mark.parametrize("item", [13, 14, 16, 17, 18])
def test_ede_q_episode_counts_stop_at_the_largest_fhir_integer(item):
    answers = [0] * 28
    answers[12] = answers[13] = FHIR_INTEGER_MAX  # item 14 counts part of item 13's times, so it needs them
    answers[item - 1] = FHIR_INTEGER_MAX
    assert score("ede-q", answers).complete
    for too_many in (FHIR_INTEGER_MAX + 1, 10**12):
        answers[item - 1] = too_many
        with pytest.raises(InvalidAnswers, match=f"Item {item}: {too_many} is out of range.*0 to {FHIR_INTEGER_MAX}"):
            score("ede-q", answers)


def test_ede_q_binge_days_stop_at_the_28_days_asked_about():
    answers = [0] * 28
    answers[12] = answers[13] = 28  # a day of item 15 holds at least one of item 14's episodes (part of item 13's)
    answers[14] = 28
    assert score("ede-q", answers).reports["objective_binge_days"] == 28
    answers[14] = 29
    with pytest.raises(InvalidAnswers, match="Item 15"):
        score("ede-q", answers)


def test_every_ede_q_count_item_has_an_upper_bound_with_its_source():
    raw = yaml.safe_load((INSTRUMENTS_DIR / "ede-q.yaml").read_text())
    for item in get_instrument("ede-q").items[12:18]:
        assert item.responses.maximum is not None
        assert raw["response_sets"][item.responses.id]["source"]


# --- EBI and MEQ30 --------------------------------------------------------------------------------------


def test_ebi_score_is_the_mean_of_the_six_ratings():
    assert score("ebi", [10, 20, 30, 40, 50, 61]).total == 35.17  # 211 / 6


def test_ebi_rejects_a_rating_above_100():
    with pytest.raises(InvalidAnswers, match="from 0 to 100"):
        score("ebi", [101, 0, 0, 0, 0, 0])


MEQ_FACTORS = {
    "mystical": [4, 5, 6, 9, 14, 15, 16, 18, 20, 21, 23, 24, 25, 26, 28],
    "positive_mood": [2, 8, 12, 17, 27, 30],
    "transcendence": [1, 7, 11, 13, 19, 22],
    "ineffability": [3, 10, 29],
}


def test_meq30_factor_scores_use_barretts_item_key_as_percent_of_maximum():
    answers = [0] * 30
    for factor, value in zip(MEQ_FACTORS, [5, 4, 2, 1], strict=True):
        for number in MEQ_FACTORS[factor]:
            answers[number - 1] = value
    result = score("meq30", answers)
    assert result.subscales == {"mystical": 100.0, "positive_mood": 80.0, "transcendence": 40.0, "ineffability": 20.0}
    assert result.total == round(100 * (15 * 5 + 6 * 4 + 6 * 2 + 3 * 1) / 150, 1)
    assert "complete_mystical_experience" not in result.flags


def test_meq30_complete_mystical_experience_needs_60_percent_on_every_factor():
    answers = [3] * 30  # exactly 60% everywhere
    assert score("meq30", answers).flags == ("complete_mystical_experience",)
    answers[2] = 2  # one ineffability item down: (2 + 3 + 3) / 15 = 53.3%
    result = score("meq30", answers)
    assert result.subscales["ineffability"] == 53.3
    assert result.flags == ()


# --- definitions that break the schema are refused at load ---------------------------------------------


def phq9_definition() -> dict:
    return copy.deepcopy(yaml.safe_load((INSTRUMENTS_DIR / "phq9.yaml").read_text()))


def test_the_loader_refuses_bands_with_a_gap():
    raw = phq9_definition()
    raw["severity"]["bands"][1]["min"] = 6
    with pytest.raises(InstrumentDefinitionError, match="does not start at 5"):
        parse_instrument(raw, "phq9")


def test_the_loader_refuses_a_flag_on_an_item_that_does_not_exist():
    raw = phq9_definition()
    raw["flags"][0]["when"] = {"item": 10, "gt": 0}
    with pytest.raises(InstrumentDefinitionError, match="unknown item 10"):
        parse_instrument(raw, "phq9")


def test_the_loader_refuses_a_condition_without_a_comparison():
    raw = phq9_definition()
    raw["flags"][0]["when"] = {"item": 9, "above": 0}
    with pytest.raises(InstrumentDefinitionError, match="one subject and one comparison"):
        parse_instrument(raw, "phq9")


def test_the_loader_refuses_a_file_whose_id_differs_from_its_name():
    with pytest.raises(InstrumentDefinitionError, match="must match the file name"):
        parse_instrument(phq9_definition(), "phq8")
