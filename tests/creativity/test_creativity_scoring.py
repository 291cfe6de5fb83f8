"""AUT scoring: response checks, originality, elaboration, fluency, flexibility, per-person summary."""

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kapstone.creativity import scoring
from kapstone.creativity.scoring import (
    check_response,
    elaboration,
    normalise_for_duplicates,
    score_originality,
    score_responses,
    summarise_participant,
)


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        (None, "empty"),
        ("x", "too_short"),
        ("asdfghjkl qwrtzpx", "not_english_or_garbage"),
        ("кирпич для двери", "not_english_or_garbage"),
        ("レンガで家を建てる", "not_english_or_garbage"),
        ("!!!???", "too_short"),
        ("use it as a doorstop", "ok"),
        ("TV stand", "ok"),
        ("a" * 10_000, "repetitive"),
        ("x " * 300, "repetitive"),
        ("build a wall " * 40, "repetitive"),
        ("usar como pisapapeles", "not_english"),
        ("als Türstopper benutzen", "not_english"),
        ("blorf zint quap veem snorg plim trazz", "not_english"),
        # Real, rated answers the checks must keep: misspelt, coined, quoted, or a word with many consonants.
        ("carrt", "ok"),
        ("doorstopper", "ok"),
        ("back scrathcer", "ok"),
        ("'pet rock'", "ok"),
        ("nightstand", "ok"),
        ("a hat", "ok"),
        ("to screw a screw", "ok"),
    ],
)
def test_it_gives_each_response_a_status(text, status):
    assert check_response(text).status == status


def test_repetitive_and_non_english_responses_get_no_originality_and_do_not_count_for_the_person():
    scored = score_responses([("brick", "a" * 10_000), ("brick", "x " * 300), ("brick", "usar como pisapapeles")])
    assert [(s.status, s.originality, s.elaboration) for s in scored] == [
        ("repetitive", None, None),
        ("repetitive", None, None),
        ("not_english", None, None),
    ]
    summary = summarise_participant("brick", ["a doorstop", "x " * 300, "usar como pisapapeles"])
    assert summary.fluency == 1
    assert summary.excluded == {"repetitive": 1, "not_english": 1}
    assert summary.originality_mean == summary.originality_top2_mean


def test_the_english_and_repetition_settings_carry_their_source():
    for section in ("english", "repetition"):
        assert scoring.settings()[section]["source"] and scoring.settings()[section]["verified"] is False


def test_it_truncates_very_long_responses_and_still_scores_them():
    nouns = yaml.safe_load((scoring.DATA_DIR / "dat_nouns.yaml").read_text(encoding="utf-8"))["nouns"]
    checked = check_response("keep " + " and ".join(nouns))
    assert checked.status == "truncated"
    assert len(checked.text) <= scoring.settings()["response_limits"]["max_chars"]
    assert checked.scorable


def test_it_counts_content_words_beyond_the_first_as_elaboration():
    assert elaboration("doorstop") == 0
    assert elaboration("a doorstop") == 0
    assert elaboration("doorstop for a windy barn door") == 3


def test_it_treats_spelling_and_article_variants_as_the_same_idea():
    assert normalise_for_duplicates("Door-stop!") == normalise_for_duplicates("a doorstop")
    assert normalise_for_duplicates("build a house") != normalise_for_duplicates("build a wall")


def test_it_scores_originality_between_1_and_5():
    scores = score_originality([("brick", "doorstop"), ("fork", "comb for a mermaid"), ("kettle", "a hat")])
    assert len(scores) == 3
    assert all(1.0 <= s <= 5.0 for s in scores)


def test_it_scores_a_common_use_below_an_original_one():
    common, original = score_originality(
        [("brick", "build a house"), ("brick", "grind it into red pigment for cave paintings")]
    )
    assert common < original - 0.5


def test_it_leaves_originality_empty_for_invalid_responses_and_keeps_order():
    results = score_responses([("brick", ""), ("brick", "doorstop"), ("brick", "zxcvbnm"), ("", "doorstop")])
    assert [r.status for r in results] == ["empty", "ok", "not_english_or_garbage", "missing_prompt"]
    assert [r.originality is None for r in results] == [True, False, True, True]
    assert results[1].elaboration == 0


def test_it_counts_fluency_without_duplicates_or_invalid_responses():
    summary = summarise_participant(
        "brick",
        ["doorstop", "Door-stop!", "a doorstop", "", "qwrtzpx", "build a house", "grind into pigment for paint"],
    )
    assert summary.responses_given == 7
    assert summary.fluency == 3
    assert summary.excluded == {"duplicate": 2, "empty": 1, "not_english_or_garbage": 1}
    assert summary.originality_top2_mean >= summary.originality_mean


def test_it_counts_distinct_categories_as_flexibility():
    same_idea = summarise_participant("brick", ["doorstop", "hold a door open", "stop a door from closing"])
    different = summarise_participant("brick", ["doorstop", "grind into pigment for paint", "a pillow for a giant"])
    assert same_idea.flexibility < different.flexibility
    assert different.flexibility == 3


def test_it_summarises_a_participant_with_no_valid_responses():
    summary = summarise_participant("brick", ["", "   "])
    assert summary.fluency == 0 and summary.flexibility == 0
    assert summary.originality_mean is None and summary.originality_top2_mean is None


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_it_never_crashes_on_arbitrary_text_when_checking(text):
    # Random text is often repetitive or foreign-looking: every status the checks can give is allowed here.
    checked = check_response(text)
    assert checked.status in {
        scoring.OK,
        scoring.TRUNCATED,
        scoring.EMPTY,
        scoring.TOO_SHORT,
        scoring.GARBAGE,
        scoring.REPETITIVE,
        scoring.NOT_ENGLISH,
    }
    assert checked.scorable == (checked.status in scoring.SCORED_STATUSES)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.text(max_size=30), st.text(max_size=700)), min_size=1, max_size=5))
def test_it_never_crashes_on_arbitrary_text_when_scoring(pairs):
    results = score_responses(pairs)
    assert len(results) == len(pairs)
    for result in results:
        assert result.originality is None or 1.0 <= result.originality <= 5.0


def test_it_embeds_the_response_words_without_the_objects_context():
    import numpy as np

    from kapstone.creativity.embeddings import encode_aut_pairs

    embedded = encode_aut_pairs(["brick", "fork"], ["doorstop", "doorstop"])
    for vectors in (embedded.pair, embedded.response, embedded.response_words):
        assert vectors.shape == (2, 384)
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert np.allclose(embedded.response_words[0], embedded.response_words[1], atol=1e-5)
    assert not np.allclose(embedded.response[0], embedded.response[1], atol=1e-3)
