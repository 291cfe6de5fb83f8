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


def _object_regressions_data(seed: int = 0):
    """Two objects, one with fewer rows than embedding dimensions and one with more (both ridge forms)."""
    rng = np.random.default_rng(seed)
    ids = np.array([0] * 12 + [1] * 40)
    concatenated = rng.normal(size=(len(ids), 20)).astype(np.float32)
    vectors = originality._unit(rng.normal(size=(len(ids), originality.PCA_BANK_DIMS))).astype(np.float32)
    ratings = rng.uniform(1, 5, len(ids)).astype(np.float32)
    return concatenated, vectors, ids, ratings


def test_a_training_rows_per_object_predictions_never_read_its_own_rating():
    concatenated, vectors, ids, ratings = _object_regressions_data()
    _, left_out = originality.ObjectRegressions.fit(concatenated, originality.Bank(vectors, ids, ratings))
    for row in (3, 30):
        changed = ratings.copy()
        changed[row] = 6.0 - ratings[row]
        _, moved = originality.ObjectRegressions.fit(concatenated, originality.Bank(vectors, ids, changed))
        assert moved[row] == pytest.approx(left_out[row], abs=1e-4)
        others = (ids == ids[row]) & (np.arange(len(ids)) != row)
        assert not np.allclose(moved[others], left_out[others])


def test_the_per_object_ridge_left_out_is_a_refit_without_the_row():
    from sklearn.linear_model import Ridge

    concatenated, vectors, ids, ratings = _object_regressions_data(1)
    _, left_out = originality.ObjectRegressions.fit(concatenated, originality.Bank(vectors, ids, ratings))
    for row in (0, 20):
        rows = np.flatnonzero((ids == ids[row]) & (np.arange(len(ids)) != row))
        refit = Ridge(alpha=originality.OBJECT_RIDGE_ALPHA).fit(concatenated[rows], ratings[rows])
        assert left_out[row, 0] == pytest.approx(refit.predict(concatenated[row : row + 1])[0], abs=1e-3)


def test_per_object_regressions_score_a_new_response_from_its_objects_fit_alone():
    from sklearn.linear_model import Ridge

    concatenated, vectors, ids, ratings = _object_regressions_data(2)
    bank = originality.Bank(vectors, ids, ratings)
    regressions, _ = originality.ObjectRegressions.fit(concatenated, bank)
    query, query_vector = concatenated[:1] + 0.5, vectors[:1]
    for prompt_id in (0, 1):
        rows = np.flatnonzero(ids == prompt_id)
        predicted = regressions.predict(query, query_vector, np.array([prompt_id]), bank)[0]
        ridge = Ridge(alpha=originality.OBJECT_RIDGE_ALPHA).fit(concatenated[rows], ratings[rows])
        assert predicted[0] == pytest.approx(ridge.predict(query)[0], abs=1e-3)
        kernel = originality._kernel(vectors[rows].astype(np.float16), vectors[rows].astype(np.float16))
        centred = ratings[rows] - ratings[rows].mean()
        duals = np.linalg.solve(kernel + originality.KERNEL_ALPHA * np.eye(len(rows)), centred)
        expected = ratings[rows].mean() + originality._kernel(query_vector, vectors[rows].astype(np.float16)) @ duals
        assert predicted[1] == pytest.approx(expected[0], abs=1e-3)


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
