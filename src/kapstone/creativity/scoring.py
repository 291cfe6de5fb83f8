"""Alternative Uses Task (AUT) scoring: per-response originality and elaboration, and per-participant
fluency, flexibility and originality summaries. Pure Python (no Django), so it is usable from a worker, a
management command or a notebook.

Every response gets a status: "ok", "truncated" (cut to the configured length, still scored), or a reason
it was not scored ("empty", "too_short", "not_english_or_garbage" for other scripts and keyboard mashing,
"repetitive", "not_english" for Latin-script text that is not English); unscored responses have originality
None and never raise. Settings and their sources live in data/aut_scoring.yaml.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import mean

import yaml
from wordfreq import tokenize, zipf_frequency

from kapstone.creativity.embeddings import encode_texts
from kapstone.creativity.originality import load_model

DATA_DIR = Path(__file__).resolve().parent / "data"

OK = "ok"
TRUNCATED = "truncated"
EMPTY = "empty"
TOO_SHORT = "too_short"
GARBAGE = "not_english_or_garbage"
REPETITIVE = "repetitive"
NOT_ENGLISH = "not_english"
SCORED_STATUSES = frozenset({OK, TRUNCATED})

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_VOWELS = set("aeiouy")


@functools.lru_cache(maxsize=1)
def settings() -> dict:
    with open(DATA_DIR / "aut_scoring.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@dataclass(frozen=True)
class CheckedResponse:
    text: str  # cleaned (whitespace collapsed, truncated) text that is scored
    status: str

    @property
    def scorable(self) -> bool:
        return self.status in SCORED_STATUSES


@dataclass(frozen=True)
class ScoredResponse:
    prompt: str
    response: str
    status: str
    originality: float | None
    elaboration: int | None


def _clean(text: object) -> str:
    if text is None:
        return ""
    text = unicodedata.normalize("NFKC", str(text))
    # Control characters (including NUL) carry no meaning in a typed answer.
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return re.sub(r"\s+", " ", text).strip()


def _looks_like_word(token: str, max_consonant_run: int) -> bool:
    if not any(ch in _VOWELS for ch in token):
        return len(token) <= 2 and token.isalpha()  # "tv", "dj": short abbreviations pass
    return not re.search(rf"[^aeiouy\W\d_]{{{max_consonant_run},}}", token)


def english_zipf(word: str) -> float:
    """How common `word` is in English on the Zipf scale (0 for a word wordfreq does not know)."""
    return zipf_frequency(word, "en")


def _is_repetitive(text: str, tokens: list[str]) -> bool:
    rules = settings()["repetition"]
    if re.search(rf"([^\W\d_])\1{{{rules['max_same_letter_run']},}}", text.lower()):
        return True
    return len(tokens) >= rules["min_tokens"] and len(set(tokens)) / len(tokens) < rules["min_distinct_token_share"]


def _is_not_english(tokens: list[str]) -> bool:
    rules = settings()["english"]
    english = [english_zipf(t) for t in tokens]
    english_share = sum(z >= rules["min_zipf"] for z in english) / len(tokens)
    if len(tokens) >= rules["min_tokens"] and english_share < rules["min_english_token_share"]:
        return True
    best_other = max(mean(zipf_frequency(t, lang) for t in tokens) for lang in rules["other_languages"])
    return best_other - mean(english) > rules["max_other_language_gain"]


def check_response(text: object) -> CheckedResponse:
    """Clean one response and decide whether it can be scored (see the module docstring)."""
    limits, garbage = settings()["response_limits"], settings()["garbage"]
    cleaned = _clean(text)
    if not cleaned:
        return CheckedResponse("", EMPTY)
    status = OK
    if len(cleaned) > limits["max_chars"]:
        cleaned, status = cleaned[: limits["max_chars"]].rstrip(), TRUNCATED
    letters = [ch for ch in cleaned if ch.isalpha()]
    if len(letters) < limits["min_letters"]:
        return CheckedResponse(cleaned, TOO_SHORT if not letters or len(cleaned) < 3 else GARBAGE)
    latin = sum(1 for ch in letters if "a" <= ch.lower() <= "z")
    if latin / len(letters) < garbage["min_latin_letter_share"]:
        return CheckedResponse(cleaned, GARBAGE)
    tokens = [t.strip("'") for t in re.split(r"[\s/,;:.!?()\"-]+", cleaned.lower()) if t.strip("'")]
    # A known English word counts whatever its spelling looks like ('nightstand' has five consonants in a row).
    wordlike = sum(
        1
        for t in tokens
        if _WORD.fullmatch(t)
        and (_looks_like_word(t, garbage["max_consonant_run"]) or english_zipf(t) >= settings()["english"]["min_zipf"])
    )
    if wordlike / max(len(tokens), 1) < garbage["min_wordlike_token_share"]:
        return CheckedResponse(cleaned, GARBAGE)
    words = [t for t in tokenize(cleaned, "en") if any(ch.isalpha() for ch in t)]
    if _is_repetitive(cleaned, words):
        return CheckedResponse(cleaned, REPETITIVE)
    if words and _is_not_english(words):
        return CheckedResponse(cleaned, NOT_ENGLISH)
    return CheckedResponse(cleaned, status)


def normalise_for_duplicates(text: str) -> str:
    """'Door-stop!', 'a doorstop', 'Doorstop ' are one idea for fluency counting."""
    words = _WORD.findall(_clean(text).lower().replace("-", ""))
    return " ".join(w for w in words if w not in {"a", "an", "the", "as", "to", "use", "it"})


def elaboration(text: str) -> int:
    """Amount of detail, a heuristic: content words (not stopwords) beyond the first.

    Elaboration is the detail a response adds (Torrance); word counts are a common automated proxy
    (Reiter-Palmon et al. 2019). 'doorstop' -> 0, 'doorstop for a windy barn door' -> 3."""
    stopwords = set(settings()["elaboration"]["stopwords"])
    content = [w for w in _WORD.findall(text.lower()) if w not in stopwords]
    return max(len(content) - 1, 0)


def score_originality(pairs: Iterable[tuple[str, str]]) -> list[float]:
    """Originality (1-5) of (prompt, response) pairs, for responses already known to be scorable.
    Use `score_responses` for raw input: it checks each response first."""
    pairs = list(pairs)
    if not pairs:
        return []
    prompts, responses = zip(*pairs, strict=True)
    return [float(s) for s in load_model().predict(list(prompts), list(responses))]


def score_responses(pairs: Iterable[tuple[object, object]]) -> list[ScoredResponse]:
    """Check, then score, raw (prompt, response) pairs; same order as the input, never raises on text."""
    pairs = list(pairs)
    checked = [check_response(response) for _, response in pairs]
    prompts = [_clean(prompt) for prompt, _ in pairs]
    scorable = [i for i, c in enumerate(checked) if c.scorable and prompts[i]]
    scores = dict(zip(scorable, score_originality([(prompts[i], checked[i].text) for i in scorable]), strict=True))
    results = []
    for i, ((_, raw), check) in enumerate(zip(pairs, checked, strict=True)):
        status = check.status if prompts[i] or not check.scorable else "missing_prompt"
        scored = i in scores
        results.append(
            ScoredResponse(
                prompt=prompts[i],
                response="" if raw is None else str(raw),
                status=status,
                originality=round(scores[i], 3) if scored else None,
                elaboration=elaboration(check.text) if scored else None,
            )
        )
    return results


def flexibility(responses: Sequence[str]) -> int:
    """Number of distinct categories among responses: agglomerative clustering of their embeddings, so the
    categories come from the similarity of the ideas rather than a hand-made list (Bossomaier et al. 2009;
    threshold, rationale and sources in data/aut_scoring.yaml)."""
    if len(responses) <= 1:
        return len(responses)
    # deferred: heavy library (scikit-learn), imported only when this runs
    from sklearn.cluster import AgglomerativeClustering

    clustering = AgglomerativeClustering(
        n_clusters=None,
        metric="cosine",
        linkage="average",
        distance_threshold=settings()["flexibility"]["distance_threshold"],
    ).fit(encode_texts(list(responses)))
    return int(clustering.n_clusters_)


@dataclass(frozen=True)
class ParticipantSummary:
    prompt: str
    responses_given: int
    fluency: int  # valid, non-duplicate responses
    flexibility: int
    originality_mean: float | None
    originality_top2_mean: float | None  # mean of the best two: fluency does not inflate it
    elaboration_mean: float | None
    excluded: dict[str, int]  # reason -> count (invalid statuses and "duplicate")


def summarise_participant(prompt: str, responses: Sequence[object]) -> ParticipantSummary:
    """One participant's answers to one AUT object (one administration)."""
    return summarise_scored(prompt, score_responses([(prompt, r) for r in responses]))


def summarise_scored(prompt: str, scored: Sequence[ScoredResponse]) -> ParticipantSummary:
    """The summary of one participant's already scored answers to one object, in the order given."""
    excluded: dict[str, int] = {}
    seen: set[str] = set()
    kept: list[ScoredResponse] = []
    for item in scored:
        if item.originality is None:
            excluded[item.status] = excluded.get(item.status, 0) + 1
            continue
        key = normalise_for_duplicates(item.response)
        if not key or key in seen:
            excluded["duplicate"] = excluded.get("duplicate", 0) + 1
            continue
        seen.add(key)
        kept.append(item)
    top_n = settings()["summary"]["top_n"]
    # A scored answer has both an originality and an elaboration (score_responses), and only scored ones are kept.
    originalities = sorted((item.originality for item in kept if item.originality is not None), reverse=True)
    elaborations = [item.elaboration for item in kept if item.elaboration is not None]
    return ParticipantSummary(
        prompt=_clean(prompt),
        responses_given=len(scored),
        fluency=len(kept),
        flexibility=flexibility([check_response(item.response).text for item in kept]),
        originality_mean=round(mean(originalities), 3) if originalities else None,
        originality_top2_mean=round(mean(originalities[:top_n]), 3) if originalities else None,
        elaboration_mean=round(mean(elaborations), 3) if elaborations else None,
        excluded=excluded,
    )
