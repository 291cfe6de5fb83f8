"""The originality model's evaluation protocol and its determinism."""

import numpy as np
import pytest

from kapstone.creativity import originality
from kapstone.creativity.scoring import score_originality


def test_grouped_folds_never_put_an_object_on_both_sides_and_hold_each_row_out_once():
    prompts = [f"object {i % 21}" for i in range(420)] + ["A Brick", "bricks", "the brick", "brick"]
    folds = originality.grouped_folds(prompts, 7)
    held_out = np.concatenate([test for _, test in folds])
    assert sorted(held_out) == list(range(len(prompts)))
    for fit_rows, test_rows in folds:
        fit_objects = {originality.normalise_prompt(prompts[i]) for i in fit_rows}
        test_objects = {originality.normalise_prompt(prompts[i]) for i in test_rows}
        assert fit_objects and test_objects and not fit_objects & test_objects


def test_spellings_of_one_object_fall_in_one_group():
    prompts = ["Brick", "a brick", "brick", "fork", "Fork", "a fork"]
    for _, test_rows in originality.grouped_folds(prompts, 2):
        assert {prompts[i].lower().removeprefix("a ") for i in test_rows} in ({"brick"}, {"fork"})


def test_an_objects_level_is_the_same_for_each_of_its_rows_so_it_cannot_reveal_a_rows_own_rating():
    ids = np.array([0, 0, 0, 1])
    ratings = np.array([1.0, 2.0, 3.0, 5.0])
    levels = originality.PromptLevels.fit(ids, ratings, 2)
    known = levels.features(ids, known=True)
    assert (known[:3] == known[0]).all() and known[0, 0] == pytest.approx(2.0)
    unseen = levels.features(np.array([0]), known=False)
    assert unseen[0, 0] == pytest.approx(11.0 / 4) and unseen[0, 2] == 0


def test_the_shipped_model_records_the_recipe_it_was_chosen_with():
    recipe = originality.load_model().recipe
    assert 1 <= recipe.layers <= 6 and 0 <= recipe.ridge_weight <= 1


PAIRS = [
    ("brick", "doorstop"),
    ("fork", "comb for a mermaid"),
    ("kettle", "a hat"),
    ("shoe", "plant pot for a small cactus on the windowsill"),
    ("brick", "grind it into red pigment for cave paintings"),
]


def test_scoring_is_deterministic():
    assert score_originality(PAIRS) == score_originality(PAIRS)


def test_a_response_scores_the_same_whatever_else_is_in_its_batch():
    together = score_originality(PAIRS)
    alone = [score_originality([pair])[0] for pair in PAIRS]
    assert together == pytest.approx(alone, abs=1e-4)


def test_the_int8_encoder_embeds_a_response_the_same_alone_or_in_a_batch_and_close_to_float32():
    from kapstone.creativity.embeddings import activation_ranges, encode_aut_pairs

    prompts, responses = [p for p, _ in PAIRS], [r for _, r in PAIRS]
    ranges = activation_ranges(prompts, responses)
    together = encode_aut_pairs(prompts, responses, int8_ranges=ranges)
    float32 = encode_aut_pairs(prompts, responses)
    for row, (prompt, response) in enumerate(PAIRS):
        alone = encode_aut_pairs([prompt], [response], int8_ranges=ranges)
        assert np.allclose(alone.pair[0], together.pair[row], atol=1e-5)
        assert np.allclose(alone.response[0], together.response[row], atol=1e-5)
    assert ((together.pair * float32.pair).sum(1) > 0.97).all()
    assert ((together.response * float32.response).sum(1) > 0.97).all()


def test_a_wild_input_outside_the_measured_ranges_is_clipped_not_rescaled():
    from kapstone.creativity.embeddings import activation_ranges, encode_aut_pairs

    ranges = activation_ranges(["brick"], ["doorstop"])
    wild = "ZZZZ qqqq " * 20
    alone = encode_aut_pairs(["brick"], ["doorstop"], int8_ranges=ranges)
    beside_wild = encode_aut_pairs(["brick", "brick"], ["doorstop", wild], int8_ranges=ranges)
    assert np.allclose(alone.pair[0], beside_wild.pair[0], atol=1e-5)
