"""Accuracy and speed of originality scoring on a rated CSV (columns prompt, response, originality), for
`make bench`. The model is loaded (and warmed up) before the clock starts: throughput is steady-state."""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import numpy as np

from kapstone.creativity.scoring import check_response, score_originality

# The folder of the rated data (not part of the repository): `make bench` (scripts/bench.py) says where it is.
DATA_DIR_VARIABLE = "KAPSTONE_AUT_DATA_DIR"


def benchmark(val_csv_path: str | Path) -> dict:
    with open(val_csv_path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    pairs = [(row["prompt"], row["response"]) for row in rows]
    ratings = np.array([float(row["originality"]) for row in rows])
    score_originality(pairs[:64])
    started, cpu_started = time.perf_counter(), time.process_time()
    predictions = np.array(score_originality(pairs))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    load = os.getloadavg()[0]
    # The response checks (empty, garbage, repetitive, not English) run before scoring in use; a real, rated
    # response they turn away is a lost idea, so the bench counts them and reports r over what they keep.
    kept = np.array([check_response(response).scorable for _, response in pairs])
    return {
        "r_val": round(float(np.corrcoef(predictions, ratings)[0, 1]), 4),
        "r_val_checked": round(float(np.corrcoef(predictions[kept], ratings[kept])[0, 1]), 4),
        "excluded_by_checks": int((~kept).sum()),
        "n": len(pairs),
        "responses_per_second": round(len(pairs) / elapsed, 1),
        # Wall-clock speed depends on what else runs on the cores; CPU time per response does much less.
        "responses_per_cpu_second": round(len(pairs) / max(cpu, 1e-9), 1),
        # Other work on the same cores slows the wall clock: the 1-minute load average says how much there was.
        "load_average": round(load, 2),
    }


def run(*, out) -> None:
    """`make bench`: originality accuracy and throughput on the held-out val split (see DATA_DIR_VARIABLE)."""
    out("Creativity scoring (originality model, held-out val split)")
    data_dir = os.environ.get(DATA_DIR_VARIABLE, "")
    if not data_dir:
        out(f"  skipped: {DATA_DIR_VARIABLE} does not name the folder of the rated AUT data")
        return
    val_csv = Path(data_dir) / "aut_ratings_val.csv"
    if not val_csv.exists():
        out(f"  skipped: {val_csv} not found")
        return
    figures = benchmark(val_csv)
    out(f"  Pearson r with human ratings: {figures['r_val']:.3f} (n = {figures['n']:,}; target 0.83)")
    out(
        f"  response checks turn away {figures['excluded_by_checks']} of them; "
        f"r over the rest: {figures['r_val_checked']:.3f}"
    )
    out(
        f"  throughput: {figures['responses_per_second']:,.0f} responses/s wall clock, "
        f"{figures['responses_per_cpu_second']:,.0f} per CPU-second (target 500/s on 2 cores; "
        f"load average {figures['load_average']:.1f} on {os.cpu_count()} cores while measured)"
    )
