"""Divergent Association Task: validity rules, scoring, the local reference distribution."""

import socket

import numpy as np
import pytest
import wordfreq
import yaml

from kapstone import bibliography
from kapstone.creativity.dat import (
    NOUNS_PATH,
    check_words,
    dat_settings,
    load_norms,
    mean_pairwise_distance,
    noun_status,
    score_dat,
)


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


def test_invented_words_are_not_counted_and_the_result_says_why():
    result = score_dat(["blorf", "zint", "quap", "veem", "snorg", "plim", "trazz"])
    assert result["score"] is None and result["percentile_vs_random_nouns"] is None
    assert result["reason"] == "only 0 valid words; the score needs 7"
    assert {(w["reason"], w["meaning"]) for w in result["invalid_words"]} == {
        ("not_english_word", "not a known English word")
    }


def test_rare_real_nouns_count_as_words():
    rare = ["quokka", "kumquat", "glockenspiel", "axolotl", "theremin", "saxophone", "microbe"]
    assert check_words(rare) == (rare, [])
    assert score_dat(rare)["score"] is not None


def test_every_noun_of_the_reference_distribution_is_a_valid_word_so_the_norms_compare_like_with_like():
    nouns = yaml.safe_load(NOUNS_PATH.read_text(encoding="utf-8"))["nouns"]
    valid, invalid = check_words(nouns)
    assert invalid == [] and len(valid) == len(nouns)


def test_the_vocabulary_cut_off_and_the_nouns_rule_carry_their_source():
    settings = dat_settings()
    assert settings["vocabulary"]["min_zipf"] > 0 and "[olson-2021]" in settings["vocabulary"]["source"]
    assert settings["nouns"]["checked"] is True
    assert bibliography.cited_ids(settings["nouns"]["source"]) == ["olson-2021", "lemminflect"]


@pytest.mark.parametrize("word", ["quickly", "beautiful", "went", "they", "the", "because"])
def test_words_that_are_not_nouns_are_not_counted_and_the_result_says_why(word):
    assert check_words([word]) == ([], [{"word": word, "reason": "not_a_noun", "meaning": "not a noun"}])


@pytest.mark.parametrize("word", ["tax", "fever", "justice", "blue", "pan"])
def test_words_that_can_be_nouns_count(word):
    assert check_words([word]) == ([word], [])


def test_known_words_missing_from_the_lexicon_count_and_are_listed_as_not_checked():
    words = ["quokka", "axolotl", "volcano", "spoon", "justice", "microbe", "saxophone"]
    result = score_dat(words)
    assert result["score"] is not None
    assert result["not_checked_as_nouns"] == ["quokka", "axolotl"]


def test_the_nouns_rule_reads_its_dictionary_from_the_package_without_a_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("lemminflect tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert noun_status("volcano") == "noun"


def test_the_word_frequencies_load_from_the_package_without_a_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("wordfreq tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    wordfreq.get_frequency_dict.cache_clear()
    wordfreq.get_frequency_list.cache_clear()
    assert wordfreq.zipf_frequency("volcano", "en") > 3
    # The other languages the AUT checks compare against load from the package too.
    assert wordfreq.zipf_frequency("fiets", "nl") > 3
