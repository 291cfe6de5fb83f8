"""Rebuild src/kapstone/creativity/model/originality.joblib from the AUT ratings and report its accuracy.

    python scripts/train_originality.py [--data-dir /work/shared/datasets/aut] [--no-save]

Fits on aut_ratings_train.csv only; prints 5-fold cross-validated Pearson r on train (the regressors
refitted per fold on the leave-one-out neighbour features) and Pearson r on aut_ratings_val.csv, which is
never used for fitting. Deterministic: fixed seeds, single-process scikit-learn.
The data are MIT-licensed by the DU Massive Texts Lab (model/LICENSE-aut-data).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import pearsonr

from kapstone.creativity import originality
from kapstone.creativity.embeddings import encode_aut_pairs


def read_ratings(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, keep_default_na=False, dtype={"prompt": str, "response": str})
    return frame.assign(prompt=frame.prompt.map(originality.normalise_prompt))


def cross_validated_r(X: np.ndarray, y: np.ndarray, folds: int = 5) -> float:
    from sklearn.model_selection import KFold

    predictions = np.zeros(len(y))
    for train_rows, test_rows in KFold(folds, shuffle=True, random_state=originality.SEED).split(X):
        fold_predictions = [
            r.fit(X[train_rows], y[train_rows]).predict(X[test_rows]) for r in originality._regressors()
        ]
        predictions[test_rows] = np.clip(np.mean(fold_predictions, axis=0), 1, 5)
    return float(pearsonr(predictions, y)[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/work/shared/datasets/aut"))
    parser.add_argument("--no-save", action="store_true", help="report only; keep the shipped artifact")
    args = parser.parse_args()
    random.seed(originality.SEED)
    np.random.seed(originality.SEED)

    train = read_ratings(args.data_dir / "aut_ratings_train.csv")
    val = read_ratings(args.data_dir / "aut_ratings_val.csv")
    started = time.perf_counter()
    embeddings = encode_aut_pairs(train.prompt.tolist(), train.response.tolist())
    print(f"embedded {len(train)} training responses in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    y = train.originality.to_numpy(dtype=np.float32)
    model, matrices = originality.fit_model(train.prompt.tolist(), train.response.tolist(), y, embeddings)
    print(f"train 5-fold CV r (known objects): {cross_validated_r(matrices['known'], y):.3f}")
    print(f"train 5-fold CV r (objects treated as unseen): {cross_validated_r(matrices['unseen'], y):.3f}")

    if not args.no_save:
        originality.save_model(model)
        model = originality.load_model.__wrapped__(originality.MODEL_PATH)
        size = originality.MODEL_PATH.stat().st_size / 1e6
        print(f"saved {originality.MODEL_PATH} ({size:.1f} MB)")
    val_predictions = model.predict(val.prompt.tolist(), val.response.tolist())
    print(f"val r ({len(val)} responses): {pearsonr(val_predictions, val.originality)[0]:.3f}")
    unseen = model.unseen_regressors
    features = model.features(
        val.prompt.tolist(),
        val.response.tolist(),
        encode_aut_pairs(val.prompt.tolist(), val.response.tolist()),
        known=False,
    )
    unseen_predictions = np.clip(np.mean([r.predict(features) for r in unseen], axis=0), 1, 5)
    print(f"val r with every object treated as unseen: {pearsonr(unseen_predictions, val.originality)[0]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
