"""Divergent Association Task: validity rules, scoring, the local reference distribution."""

import numpy as np

from kapstone.creativity.dat import check_words, load_norms, mean_pairwise_distance, score_dat


def test_it_keeps_single_alphabetic_words_lowercased_and_once():
    valid, invalid = check_words(["Cat", "ice cream", "cat", "x123", "", "qqqq", "a", "Volcano"])
    assert valid == ["cat", "volcano"]
    assert [i["reason"] for i in invalid] == [
        "not_single_word",
        "duplicate",
        "not_alphabetic",
        "empty",
        "not_a_word",
        "too_short",
    ]


def test_it_computes_mean_pairwise_cosine_distance_times_100():
    identical = np.tile([[1.0, 0.0, 0.0]], (3, 1))
    orthogonal = np.eye(3)
    assert mean_pairwise_distance(identical) == 0.0
    assert mean_pairwise_distance(orthogonal) == 100.0


def test_it_gives_no_score_with_fewer_than_7_valid_words():
    result = score_dat(["cat", "dog", "dog", "ice cream", "tree", "car", "moon"])
    assert result["score"] is None
    assert result["reason"] == "only 5 valid words; the score needs 7"
    assert result["valid_words"] == ["cat", "dog", "tree", "car", "moon"]


def test_it_scores_only_the_first_7_valid_words():
    words = ["arm", "volcano", "justice", "spoon", "microbe", "saxophone", "glacier", "leg", "foot", "hand"]
    result = score_dat(words)
    assert result["words_used"] == words[:7]
    assert result["score"] == score_dat(words[:7])["score"]


def test_it_scores_unrelated_words_above_related_ones():
    related = score_dat(["cat", "dog", "mouse", "hamster", "rabbit", "puppy", "kitten"])["score"]
    unrelated = score_dat(["volcano", "spoon", "justice", "microbe", "saxophone", "glacier", "passport"])["score"]
    assert 0 < related < unrelated < 100


def test_it_places_scores_in_the_locally_computed_random_noun_distribution():
    norms = load_norms()
    assert norms["version"] and norms["source"] and norms["verified"] is False
    assert 0 < norms["sd"] < norms["mean"] < 100
    result = score_dat(["volcano", "spoon", "justice", "microbe", "saxophone", "glacier", "passport"])
    assert result["percentile_vs_random_nouns"] > 50
