"""Originality of Alternative Uses Task responses, predicted from human ratings (1-5).

The model learns from the ratings released with Organisciak, Acar, Dumas & Berthiaume (2023), Thinking
Skills and Creativity 49:101356 (MIT licence, see model/LICENSE-aut-data). Semantic distance alone
correlates only .12-.26 with human raters; what carries most of the signal here is how raters scored
*similar* answers for the same object, so the features are:

- nearest-neighbour rating averages and neighbourhood density among the training responses for the same
  object (a common answer sits in a dense neighbourhood of low-rated answers: statistical rarity, the
  classic basis of originality scoring), and, if the recipe says so, among the responses to the *other*
  objects (an answer that is common for any object, such as "art", is rarely rated original);
- the object's own rating level in the training data (mean, spread, and how many answers it has);
- two regressions fitted on each object's own training responses alone: a ridge on the three embeddings
  side by side, and a kernel ridge over the neighbour-search space of the pair embedding (a smooth,
  rating-weighted neighbourhood). Each reads how that object's raters scored answers like this one, as the
  neighbour averages do, but weighs all of the object's answers at once (+.011 grouped-CV r on train);
- semantic distance between object and response, response length (words, characters), and how rare the
  response's words are in English (wordfreq);
- a 128-dimensional projection (PCA) of the response embeddings (64 for the context-free words).

Each is computed on three embeddings of the response (see embeddings.py): the "object: response"
pair, the response read in the object's context, and the response's context-free words.

A ridge regression and a gradient-boosted tree ensemble read these features; their weighted mean, clipped
to 1-5, is the score. Objects outside those of the training data are scored by a second pair of regressors
trained as if each object were unseen (neighbours drawn only from the other objects, the object's level
replaced by the overall one), so a new object gets an honest, if weaker, estimate rather than a made-up
neighbourhood.

What varies (encoder depth, the cross-object neighbours, the regressors' settings) is a `Recipe`;
`scripts/train_originality.py` chooses it by cross-validation on the training data grouped by object and
rebuilds the artefact with `fit_model`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from wordfreq import zipf_frequency

from kapstone.creativity.embeddings import FULL_DEPTH, Int8Ranges, PairEmbeddings, encode_aut_pairs, encode_prompts

MODEL_PATH = Path(__file__).resolve().parent / "model" / "originality.joblib"

PCA_DIMS = 128
# The context-free word average is a coarser signal: half the components carry what it adds.
WORDS_PCA_DIMS = 64
# Neighbour search runs on the first PCA_BANK_DIMS components: as accurate as the full 384 dimensions on
# the training data and small enough to ship the training bank in the repository.
PCA_BANK_DIMS = 64
PROJECTED_DIMS = 2 * PCA_DIMS + WORDS_PCA_DIMS  # the projections close the feature matrix
NEIGHBOUR_COUNTS = (5, 20, 50)
DENSITY_THRESHOLDS = (0.6, 0.7, 0.8, 0.9)
# Softmax temperature over cosine similarities: the nearest few neighbours dominate the average.
NEIGHBOUR_SHARPNESS = 10.0
# Further readings of the 50 nearest, weighted relative to the nearest one: from nearly flat to nearly
# nearest-only. The trees pick the one that fits each neighbourhood (+.001 train CV r).
EXTRA_SHARPNESS = (3.0, 20.0, 40.0)
SPREAD_COUNT = 20
MIN_SCORE, MAX_SCORE = 1.0, 5.0
SEED = 0
# Neighbour average when an object has no neighbours at all: the training mean rating, roughly.
UNKNOWN_RATING = 2.2
# Words rarer than this in English (Zipf scale: once per million words) count as rare.
RARE_WORD_ZIPF = 3.0
_LETTERS = re.compile(r"[a-z]+")
# The per-object regressions' settings, by their leave-one-out r on train (linear alpha .1-3, kernel
# sharpness 1-10 and alpha .1-1 tried; alone they reach r .77 and .78 there).
OBJECT_RIDGE_ALPHA = 3.0
KERNEL_SHARPNESS = 3.0
KERNEL_ALPHA = 0.3


@dataclass(frozen=True)
class Recipe:
    """The choices the training script makes by grouped cross-validation on the training data."""

    layers: int = FULL_DEPTH  # transformer layers of the encoder that run
    cross_prompt: bool = False  # neighbour features among the other objects' responses too
    ridge_alpha: float = 3.0
    ridge_weight: float = 0.5  # the ridge's share of the ensemble; the trees get the rest
    tree_learning_rate: float = 0.05
    tree_iterations: int = 400
    tree_leaves: int = 31
    # The trees read the PCA projections too, or only the compact features before them.
    trees_read_projections: bool = True

    def regressors(self) -> list:
        # deferred: heavy library (scikit-learn), imported only when this runs
        from sklearn.ensemble import HistGradientBoostingRegressor
        from sklearn.linear_model import Ridge

        return [
            Ridge(alpha=self.ridge_alpha),
            HistGradientBoostingRegressor(
                max_iter=self.tree_iterations,
                learning_rate=self.tree_learning_rate,
                max_leaf_nodes=self.tree_leaves,
                random_state=SEED,
            ),
        ]

    def tree_columns(self, X: np.ndarray) -> np.ndarray:
        return X if self.trees_read_projections else X[:, : X.shape[1] - PROJECTED_DIMS]

    def fit(self, X: np.ndarray, y: np.ndarray) -> list:
        ridge, trees = self.regressors()
        return [ridge.fit(X, y), trees.fit(self.tree_columns(X), y)]

    def predict(self, regressors: Sequence, X: np.ndarray) -> np.ndarray:
        ridge, trees = regressors
        return self.combine([ridge.predict(X), trees.predict(self.tree_columns(X))])

    def combine(self, predictions: Sequence[np.ndarray]) -> np.ndarray:
        ridge, trees = predictions
        return np.clip(self.ridge_weight * ridge + (1.0 - self.ridge_weight) * trees, MIN_SCORE, MAX_SCORE)


def word_rarity(responses: Sequence[str]) -> np.ndarray:
    """Per response: mean and lowest English Zipf frequency of its words, and the share of rare words."""
    out = np.zeros((len(responses), 3), dtype=np.float32)
    for row, response in enumerate(responses):
        zipfs = [zipf_frequency(word, "en") for word in _LETTERS.findall(response.lower())]
        if zipfs:
            out[row] = (np.mean(zipfs), min(zipfs), np.mean([z < RARE_WORD_ZIPF for z in zipfs]))
    return out


@dataclass
class PromptLevels:
    """Each training object's rating level. Rows are not left out of their own object's level: within an
    object a leave-one-out mean falls as the row's own rating rises, so trees would read the rating off it;
    one rating in hundreds moves the full mean by too little to matter."""

    means: np.ndarray  # (n_prompts,)
    sds: np.ndarray  # (n_prompts,)
    counts: np.ndarray  # (n_prompts,)
    overall: tuple[float, float]  # mean and SD over every training rating, for an unseen object

    @classmethod
    def fit(cls, ids: np.ndarray, ratings: np.ndarray, n_prompts: int) -> PromptLevels:
        ratings = ratings.astype(np.float64)
        counts = np.bincount(ids, minlength=n_prompts).astype(np.float64)
        means = np.bincount(ids, ratings, n_prompts) / np.maximum(counts, 1)
        squares = np.bincount(ids, ratings**2, n_prompts) / np.maximum(counts, 1)
        return cls(
            means=means,
            sds=np.sqrt(np.maximum(squares - means**2, 0.0)),
            counts=counts,
            overall=(float(ratings.mean()), float(ratings.std())),
        )

    def features(self, ids: np.ndarray, *, known: bool) -> np.ndarray:
        """Mean, SD and log count of the object's training ratings; for an unseen object, the overall mean and
        SD and a count of zero."""
        if known:
            columns = [self.means[ids], self.sds[ids], np.log1p(self.counts[ids])]
        else:
            columns = [np.full(len(ids), self.overall[0]), np.full(len(ids), self.overall[1]), np.zeros(len(ids))]
        return np.column_stack(columns).astype(np.float32)


def normalise_prompt(prompt: str) -> str:
    """'A Brick', 'bricks', ' the brick ' -> 'brick' (for known objects; others are lowercased)."""
    text = re.sub(r"\s+", " ", str(prompt).strip().lower())
    return re.sub(r"^(a|an|the) ", "", text)


def _match_known(prompt: str, known: Sequence[str]) -> str:
    if prompt in known:
        return prompt
    for candidate in (prompt[:-1] if prompt.endswith("s") else None, prompt[:-2] if prompt.endswith("es") else None):
        if candidate and candidate in known:
            return candidate
    return prompt


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


@dataclass
class Projection:
    mean: np.ndarray
    components: np.ndarray  # (dims, 384)

    @classmethod
    def fit(cls, rows: np.ndarray, dims: int = PCA_DIMS) -> Projection:
        # deferred: heavy library (scikit-learn), imported only when this runs
        from sklearn.decomposition import PCA

        pca = PCA(dims, random_state=SEED).fit(rows)
        return cls(mean=pca.mean_.astype(np.float32), components=pca.components_.astype(np.float32))

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        return (rows - self.mean) @ self.components.T


@dataclass
class Bank:
    """Training responses of one embedding kind, for neighbour features."""

    vectors: np.ndarray  # (n, PCA_BANK_DIMS) unit rows, float16 on disk
    prompt_ids: np.ndarray  # (n,) index into the model's prompts
    ratings: np.ndarray  # (n,)


def _bank_vectors(projected: np.ndarray) -> np.ndarray:
    return _unit(projected[:, :PCA_BANK_DIMS]).astype(np.float32)


def _kernel(queries: np.ndarray, bank_vectors: np.ndarray) -> np.ndarray:
    return np.exp(KERNEL_SHARPNESS * (queries.astype(np.float64) @ bank_vectors.astype(np.float64).T - 1.0))


@dataclass
class ObjectRegressions:
    """Per training object, a ridge on the concatenated embeddings and a kernel ridge over the pair bank's
    vectors, each fitted on that object's training ratings only (intercept: the object's mean rating)."""

    centres: np.ndarray  # (n_prompts, 3 * 384) the object's mean concatenated embedding
    weights: np.ndarray  # (n_prompts, 3 * 384) the linear ridge's weights
    means: np.ndarray  # (n_prompts,) the object's mean rating
    duals: np.ndarray  # (n_bank,) the kernel ridge's coefficient of each pair-bank row

    @classmethod
    def fit(cls, concatenated: np.ndarray, bank: Bank) -> tuple[ObjectRegressions, np.ndarray]:
        """The regressions, and each training row's two predictions with its own rating left out, from each
        fit's smoother matrix (prediction = rating - residual / (1 - leverage)) rather than a refit per row."""
        ids, ratings = bank.prompt_ids, bank.ratings.astype(np.float64)
        n_prompts, dims = int(ids.max()) + 1, concatenated.shape[1]
        regressions = cls(
            centres=np.zeros((n_prompts, dims), dtype=np.float32),
            weights=np.zeros((n_prompts, dims), dtype=np.float32),
            means=np.zeros(n_prompts, dtype=np.float32),
            duals=np.zeros(len(ids), dtype=np.float32),
        )
        left_out = np.zeros((len(ids), 2))
        for prompt_id in np.unique(ids):
            rows = np.flatnonzero(ids == prompt_id)
            X = concatenated[rows].astype(np.float64)
            centre, mean = X.mean(0), ratings[rows].mean()
            X, t = X - centre, ratings[rows] - mean
            if len(rows) <= dims:  # the n x n form is the smaller system
                gram = X @ X.T
                inverse = np.linalg.inv(gram + OBJECT_RIDGE_ALPHA * np.eye(len(rows)))
                weights, hat = X.T @ (inverse @ t), gram @ inverse
            else:
                solved = np.linalg.solve(X.T @ X + OBJECT_RIDGE_ALPHA * np.eye(dims), X.T)
                weights, hat = solved @ t, X @ solved
            left_out[rows, 0] = _left_out(t, hat) + mean
            # The vectors as the saved bank holds them (float16), so scoring sees the kernel fitted here.
            vectors = bank.vectors[rows].astype(np.float16)
            kernel = _kernel(vectors, vectors)
            inverse = np.linalg.inv(kernel + KERNEL_ALPHA * np.eye(len(rows)))
            left_out[rows, 1] = _left_out(t, kernel @ inverse) + mean
            regressions.centres[prompt_id], regressions.weights[prompt_id] = centre, weights
            regressions.means[prompt_id], regressions.duals[rows] = mean, inverse @ t
        return regressions, left_out.astype(np.float32)

    def predict(self, concatenated: np.ndarray, pair_queries: np.ndarray, ids: np.ndarray, bank: Bank) -> np.ndarray:
        """Both regressions' predictions for responses to known objects (ids index the model's prompts)."""
        out = np.zeros((len(ids), 2), dtype=np.float32)
        bank_ids = bank.prompt_ids.astype(np.int64)
        for prompt_id in np.unique(ids):
            rows, bank_rows = np.flatnonzero(ids == prompt_id), np.flatnonzero(bank_ids == prompt_id)
            centred = concatenated[rows] - self.centres[prompt_id]
            out[rows, 0] = self.means[prompt_id] + centred @ self.weights[prompt_id]
            kernel = _kernel(pair_queries[rows], bank.vectors[bank_rows])
            out[rows, 1] = self.means[prompt_id] + kernel @ self.duals[bank_rows].astype(np.float64)
        return out


def _left_out(t: np.ndarray, hat: np.ndarray) -> np.ndarray:
    """Leave-one-out predictions of the centred ratings t of a fit whose prediction is mean + hat @ t: the
    mean's own share of a row's leverage is 1/n, less what hat gives back of it (nothing for a ridge on
    centred inputs)."""
    leverage = 1.0 / len(t) + np.diag(hat) - hat.sum(1) / len(t)
    return t - (t - hat @ t) / np.maximum(1.0 - leverage, 1e-6)


def _weighted_mean(values: np.ndarray, weights: np.ndarray, empty: float = UNKNOWN_RATING) -> np.ndarray:
    total = weights.sum(1)
    return np.where(total > 0, (weights * values).sum(1) / np.maximum(total, 1e-12), empty)


def neighbour_features(
    queries: np.ndarray,
    query_prompt_ids: np.ndarray,
    bank: Bank,
    *,
    same_prompt: bool,
    exclude_self: bool = False,
    chunk: int = 2048,
) -> np.ndarray:
    """Per query: softmax-weighted neighbour rating and mean similarity for each k, the log share of
    the eligible bank within each similarity threshold, then the EXTRA_SHARPNESS weighted ratings, the
    weighted spread of the nearest SPREAD_COUNT ratings, the nearest similarity and rating, and the mean
    rating and similarity of the nearest three.

    same_prompt=True draws neighbours from the query's own object; False from all *other* objects (the
    unseen-object model). exclude_self drops the query's own row (queries == the bank, in training).
    Queries are handled object by object. With same_prompt each is compared only with its object's part of
    the bank; without, with the whole bank, its own object's rows then set below any similarity (-2, no
    neighbour): copying out the other objects' rows, most of the bank, for each object cost five times the
    matrix product."""
    vectors = bank.vectors.astype(np.float32)
    ratings = bank.ratings.astype(np.float32)
    bank_ids = bank.prompt_ids.astype(np.int64)
    k_max = max(NEIGHBOUR_COUNTS)
    n_features = 2 * len(NEIGHBOUR_COUNTS) + len(DENSITY_THRESHOLDS) + len(EXTRA_SHARPNESS) + 5
    out = np.zeros((len(queries), n_features), dtype=np.float32)
    for prompt_id in np.unique(query_prompt_ids):
        query_rows = np.flatnonzero(query_prompt_ids == prompt_id)
        own_object = bank_ids == prompt_id
        bank_rows = np.flatnonzero(own_object) if same_prompt else np.arange(len(bank_ids))
        eligible_vectors = vectors[bank_rows] if same_prompt else vectors
        for start in range(0, len(query_rows), chunk):
            rows = query_rows[start : start + chunk]
            sims = queries[rows] @ eligible_vectors.T
            if not same_prompt:
                sims[:, own_object] = -2.0
            if exclude_self:
                sims[rows[:, None] == bank_rows[None, :]] = -2.0
            n_eligible = np.maximum(np.count_nonzero(sims > -1.5, axis=1), 1)
            # A small object (or none left) still yields k columns: filler at -2 counts as no neighbour.
            if sims.shape[1] < k_max:
                sims = np.pad(sims, ((0, 0), (0, k_max - sims.shape[1])), constant_values=-2.0)
                padded_rows = np.pad(bank_rows, (0, k_max - len(bank_rows)))
            else:
                padded_rows = bank_rows
            if sims.shape[1] > k_max:
                # deferred: heavy library (torch, loaded by the encoder anyway); its top-k is 5x numpy's
                # argpartition here, which was the scoring's costliest step after the encoder.
                import torch

                found = torch.topk(torch.from_numpy(sims), k_max, dim=1, sorted=True)
                top, top_sims = found.indices.numpy(), found.values.numpy()
            else:
                top = np.tile(np.arange(k_max), (len(rows), 1))
                top_sims = np.take_along_axis(sims, top, 1)
                order = np.argsort(-top_sims, axis=1, kind="stable")
                top = np.take_along_axis(top, order, 1)
                top_sims = np.take_along_axis(top_sims, order, 1)
            valid = top_sims > -1.5
            top_ratings = np.where(valid, ratings[padded_rows[top]], UNKNOWN_RATING)
            feats = []
            for count in NEIGHBOUR_COUNTS:
                s, v = top_sims[:, :count], valid[:, :count]
                weights = np.exp(NEIGHBOUR_SHARPNESS * np.where(v, s, -1.0)) * v
                weight_sum = weights.sum(1)
                mean_rating = np.where(
                    weight_sum > 0,
                    (weights * top_ratings[:, :count]).sum(1) / np.maximum(weight_sum, 1e-12),
                    UNKNOWN_RATING,
                )
                feats.append(mean_rating)
                feats.append(np.where(v.any(1), (s * v).sum(1) / np.maximum(v.sum(1), 1), 0.0))
            for threshold in DENSITY_THRESHOLDS:
                feats.append(np.log1p(np.count_nonzero(sims > threshold, axis=1)) - np.log(n_eligible))
            nearest = top_sims[:, :1]
            for sharpness in EXTRA_SHARPNESS:
                feats.append(_weighted_mean(top_ratings, np.exp(sharpness * (top_sims - nearest)) * valid))
            near = slice(0, SPREAD_COUNT)
            weights = np.exp(NEIGHBOUR_SHARPNESS * (top_sims[:, near] - nearest)) * valid[:, near]
            centre = _weighted_mean(top_ratings[:, near], weights)
            feats.append(np.sqrt(_weighted_mean((top_ratings[:, near] - centre[:, None]) ** 2, weights, empty=0.0)))
            feats += [top_sims[:, 0], top_ratings[:, 0], top_ratings[:, :3].mean(1), top_sims[:, :3].mean(1)]
            out[rows] = np.column_stack(feats)
    return out


@dataclass
class OriginalityModel:
    recipe: Recipe
    prompts: list[str]
    prompt_vectors: np.ndarray  # (n_prompts, 384) unit embeddings of the object names, at recipe.layers
    levels: PromptLevels
    pair_projection: Projection
    response_projection: Projection
    words_projection: Projection
    pair_bank: Bank
    response_bank: Bank
    words_bank: Bank
    object_regressions: ObjectRegressions
    known_regressors: list  # [ridge, boosted trees], trained with same-object neighbours
    unseen_regressors: list  # same, trained with neighbours from other objects only
    # The encoder's int8 input ranges (embeddings.activation_ranges) if it runs in int8, else None.
    int8_ranges: Int8Ranges | None = None

    def features(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        embeddings: PairEmbeddings,
        *,
        known: bool,
        left_out: np.ndarray | None = None,
    ) -> np.ndarray:
        """The feature matrix. left_out is given in training only, when the queries are the training rows:
        the per-object regressions' predictions for each row with its own rating left out
        (ObjectRegressions.fit); each row's neighbours then leave the row itself out too."""
        prompt_index = {p: i for i, p in enumerate(self.prompts)}
        ids = np.array([prompt_index.get(p, -1) for p in prompts])
        prompt_vectors = np.zeros((len(prompts), 384), dtype=np.float32)
        if (ids >= 0).any():
            prompt_vectors[ids >= 0] = self.prompt_vectors[ids[ids >= 0]]
        unknown = sorted({p for p, i in zip(prompts, ids, strict=True) if i < 0})
        if unknown:
            unknown_vectors = dict(
                zip(
                    unknown,
                    encode_prompts(unknown, layers=self.recipe.layers, int8_ranges=self.int8_ranges),
                    strict=True,
                )
            )
            for row, (p, i) in enumerate(zip(prompts, ids, strict=True)):
                if i < 0:
                    prompt_vectors[row] = unknown_vectors[p]
        exclude_self = left_out is not None
        words = np.array([len(r.split()) for r in responses], dtype=np.float32)
        chars = np.array([len(r) for r in responses], dtype=np.float32)
        kinds = [
            (embeddings.pair, self.pair_projection, self.pair_bank),
            (embeddings.response, self.response_projection, self.response_bank),
            (embeddings.response_words, self.words_projection, self.words_bank),
        ]
        projected = [projection(vectors) for vectors, projection, _ in kinds]
        neighbours = [
            neighbour_features(_bank_vectors(rows), ids, bank, same_prompt=known, exclude_self=exclude_self)
            for rows, (_, _, bank) in zip(projected, kinds, strict=True)
        ]
        if not known:
            # No object of its own to have fitted on: the overall mean, which the unseen regressors ignore.
            object_predictions = np.full((len(prompts), 2), self.levels.overall[0], dtype=np.float32)
        elif left_out is None:
            concatenated = np.column_stack([embeddings.pair, embeddings.response, embeddings.response_words])
            object_predictions = self.object_regressions.predict(
                concatenated, _bank_vectors(projected[0]), ids, self.pair_bank
            )
        else:
            object_predictions = left_out
        if known and self.recipe.cross_prompt:
            # Neighbours among the other objects' answers; the query's own row is never among them.
            neighbours.append(neighbour_features(_bank_vectors(projected[0]), ids, self.pair_bank, same_prompt=False))
        return np.column_stack(
            [1.0 - (vectors * prompt_vectors).sum(1) for vectors, _, _ in kinds]
            + [np.log1p(words), np.log1p(chars), word_rarity(responses)]
            + [self.levels.features(np.maximum(ids, 0), known=known), object_predictions]
            + neighbours
            + projected
        ).astype(np.float32)

    def predict(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Scores in [1, 5] for already validated, non-empty responses."""
        if not responses:
            return np.zeros(0)
        prompts = [_match_known(normalise_prompt(p), self.prompts) for p in prompts]
        responses = list(responses)
        embeddings = encode_aut_pairs(prompts, responses, layers=self.recipe.layers, int8_ranges=self.int8_ranges)
        known_mask = np.array([p in self.prompts for p in prompts])
        scores = np.zeros(len(responses))
        for known, regressors in ((True, self.known_regressors), (False, self.unseen_regressors)):
            rows = np.flatnonzero(known_mask == known)
            if rows.size == 0:
                continue
            X = self.features(
                [prompts[i] for i in rows],
                [responses[i] for i in rows],
                PairEmbeddings(embeddings.pair[rows], embeddings.response[rows], embeddings.response_words[rows]),
                known=known,
            )
            scores[rows] = self.recipe.predict(regressors, X)
        return scores


def grouped_folds(prompts: Sequence[str], folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fit rows, held-out rows) for cross-validation grouped by object: every row is held out once, and no
    object has rows on both sides of a fold."""
    # deferred: heavy library (scikit-learn), imported only when this runs
    from sklearn.model_selection import GroupKFold

    groups = np.array([normalise_prompt(p) for p in prompts])
    return list(GroupKFold(folds).split(np.zeros(len(groups)), groups=groups))


def training_features(
    prompts: Sequence[str],
    responses: Sequence[str],
    ratings: np.ndarray,
    embeddings: PairEmbeddings,
    recipe: Recipe,
    int8_ranges: Int8Ranges | None = None,
) -> tuple[OriginalityModel, dict[str, np.ndarray]]:
    """The model without its regressors, and the training feature matrices (known/unseen) whose
    neighbour features leave each row's own rating out, for cross-validation. `embeddings` come from the
    encoder that scoring will use: int8 with `int8_ranges`, or float32 without."""
    prompts = [normalise_prompt(p) for p in prompts]
    known_prompts = sorted(set(prompts))
    index = {p: i for i, p in enumerate(known_prompts)}
    ids = np.array([index[p] for p in prompts])
    pair_projection = Projection.fit(embeddings.pair)
    response_projection = Projection.fit(embeddings.response)
    words_projection = Projection.fit(embeddings.response_words, WORDS_PCA_DIMS)
    ratings = np.asarray(ratings, dtype=np.float32)
    pair_bank = Bank(_bank_vectors(pair_projection(embeddings.pair)), ids, ratings)
    object_regressions, left_out = ObjectRegressions.fit(
        np.column_stack([embeddings.pair, embeddings.response, embeddings.response_words]), pair_bank
    )
    model = OriginalityModel(
        recipe=recipe,
        prompts=known_prompts,
        prompt_vectors=encode_prompts(known_prompts, layers=recipe.layers, int8_ranges=int8_ranges),
        levels=PromptLevels.fit(ids, ratings, len(known_prompts)),
        pair_projection=pair_projection,
        response_projection=response_projection,
        words_projection=words_projection,
        pair_bank=pair_bank,
        response_bank=Bank(_bank_vectors(response_projection(embeddings.response)), ids, ratings),
        words_bank=Bank(_bank_vectors(words_projection(embeddings.response_words)), ids, ratings),
        object_regressions=object_regressions,
        known_regressors=[],
        unseen_regressors=[],
        int8_ranges=int8_ranges,
    )
    matrices = {
        "known" if known else "unseen": model.features(
            prompts, list(responses), embeddings, known=known, left_out=left_out
        )
        for known in (True, False)
    }
    return model, matrices


def fit_model(
    prompts: Sequence[str],
    responses: Sequence[str],
    ratings: np.ndarray,
    embeddings: PairEmbeddings,
    recipe: Recipe,
    int8_ranges: Int8Ranges | None = None,
) -> OriginalityModel:
    """Fit on training rows only: the whole recipe."""
    model, matrices = training_features(prompts, responses, ratings, embeddings, recipe, int8_ranges)
    ratings = np.asarray(ratings, dtype=np.float32)
    model.known_regressors = recipe.fit(matrices["known"], ratings)
    model.unseen_regressors = recipe.fit(matrices["unseen"], ratings)
    return model


def save_model(model: OriginalityModel, path: Path = MODEL_PATH) -> None:
    # deferred: heavy library (joblib), imported only when this runs
    import joblib

    for bank in (model.pair_bank, model.response_bank, model.words_bank):
        bank.vectors = bank.vectors.astype(np.float16)
        bank.ratings = bank.ratings.astype(np.float16)
        bank.prompt_ids = bank.prompt_ids.astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, path, compress=3)


@functools.lru_cache(maxsize=1)
def load_model(path: Path = MODEL_PATH) -> OriginalityModel:
    """The shipped model, loaded once per process."""
    # deferred: heavy library (joblib), imported only when this runs
    import joblib

    return joblib.load(path)
