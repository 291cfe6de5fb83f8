"""Score a CSV of AUT responses (columns prompt, response; any others are kept) into a new CSV with
`originality`, `elaboration` and `status` appended. Rows and columns keep their order. An input column
that already has one of those names (the rated dataset's own prompt,response,originality, for instance)
is kept under a new name, `<name>_input`, and the rename is reported. Malformed input raises AutFileError
with a message that says what to fix; nothing is written then.

Chunks of rows can be scored by several worker processes; the output is the same whatever their number.
With a `participant` column, a second CSV can summarise each participant's answers to each object
(fluency, flexibility, originality mean and top-2, elaboration), in order of first appearance.

Malformed means: not UTF-8, a NUL byte (a spreadsheet or UTF-16 file saved under a .csv name), a quoted
field that is never closed, a row with more fields than the header, no prompt/response header, or more
than MAX_FILE_BYTES bytes or MAX_ROWS responses (split larger files)."""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kapstone.creativity import embeddings
from kapstone.creativity.scoring import ScoredResponse, score_responses, summarise_scored

CHUNK_ROWS = 1024
REQUIRED_COLUMNS = ("prompt", "response")
ADDED_COLUMNS = ("originality", "elaboration", "status")
PARTICIPANT_COLUMN = "participant"
SUMMARY_COLUMNS = (
    "participant",
    "prompt",
    "responses_given",
    "fluency",
    "flexibility",
    "originality_mean",
    "originality_top2_mean",
    "elaboration_mean",
    "excluded",
)
# The cores the scoring benchmark assumes; more workers than cores only add model copies in memory.
MAX_WORKERS = max(os.cpu_count() or 1, 1)
RENAMED_SUFFIX = "_input"
# The file is read whole, so it is bounded: 64 MB is ~300 times the rated dataset, and 100,000
# responses take a few minutes at the benchmarked throughput; beyond that a split file fails less late.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_ROWS = 100_000
# Above csv's default 128 kB per field, so a pasted essay reaches the scorer (which truncates it)
# instead of being rejected; the file cap above still bounds it.
csv.field_size_limit(MAX_FILE_BYTES)


class AutFileError(Exception):
    pass


@dataclass(frozen=True)
class AutFileResult:
    counts: dict[str, int]  # rows per scoring status
    renamed: dict[str, str] = field(default_factory=dict)  # input column -> its name in OUT


def _read_text(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise AutFileError(f"Cannot read {path}: {error.strerror or error}.") from None
    if len(data) > MAX_FILE_BYTES:
        raise AutFileError(
            f"{path} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB, the most score-aut reads at once: "
            "split it into smaller files."
        )
    nul_at = data.find(b"\x00")
    if nul_at >= 0:
        line = data.count(b"\n", 0, nul_at) + 1
        raise AutFileError(
            f"{path} has a NUL byte on line {line}, so it is not a text CSV "
            "(a spreadsheet file or UTF-16 text?): save it as 'CSV UTF-8'."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise AutFileError(f"{path} is not UTF-8 text (byte {error.start}): save it as UTF-8 CSV.") from None


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    source_exhausted = False

    def lines() -> Iterator[str]:
        nonlocal source_exhausted
        yield from io.StringIO(_read_text(path), newline="")
        source_exhausted = True

    reader = csv.reader(lines())
    rows: list[list[str]] = []
    header_width = 0
    start_line = 1
    try:
        for row in reader:
            # csv completes a record at a line end; one completed only because the text ran out is a
            # quoted field that was never closed, which would otherwise swallow every later row silently.
            if source_exhausted:
                raise AutFileError(
                    f'{path} line {start_line} opens a quoted field that is never closed (a " is missing), '
                    "so the rest of the file would be one answer: close or remove that quote."
                )
            if not rows:
                header_width = len(row)
            elif len(row) > header_width:
                raise AutFileError(f"{path} line {start_line} has {len(row)} fields but the header has {header_width}.")
            rows.append(row)
            if len(rows) > MAX_ROWS + 1:
                raise AutFileError(
                    f"{path} has more than {MAX_ROWS:,} responses, the most score-aut scores at once: "
                    "split it into smaller files."
                )
            start_line = reader.line_num + 1
    except csv.Error as error:
        raise AutFileError(f"{path} is not a readable CSV file (line {reader.line_num}): {error}.") from None
    if not rows:
        raise AutFileError(f"{path} is empty: it needs a header row with the columns prompt,response.")
    return rows[0], rows[1:]


def _output_header(header: list[str]) -> tuple[list[str], dict[str, str]]:
    """The input columns, in order, with any that an added column would overwrite renamed."""
    taken = {name.strip().lower() for name in header} | set(ADDED_COLUMNS)
    renamed: dict[str, str] = {}
    output = []
    for name in header:
        if name.strip().lower() in ADDED_COLUMNS:
            new_name, number = f"{name.strip()}{RENAMED_SUFFIX}", 2
            while new_name.lower() in taken:
                new_name, number = f"{name.strip()}{RENAMED_SUFFIX}_{number}", number + 1
            taken.add(new_name.lower())
            renamed[name] = new_name
            name = new_name
        output.append(name)
    return output, renamed


def _score_chunk(pairs: list[tuple[str, str]]) -> list[ScoredResponse]:
    return score_responses(pairs)


def _start_worker(threads: int) -> None:
    # Each worker gets its share of the cores, so N workers do not oversubscribe them N-fold.
    embeddings.TORCH_THREADS = threads


def _scored_chunks(chunks: list[list[tuple[str, str]]], workers: int) -> Iterator[list[ScoredResponse]]:
    """Scored chunks in input order, from this process or from `workers` processes."""
    if workers <= 1 or len(chunks) <= 1:
        yield from map(_score_chunk, chunks)
        return
    threads = max(1, MAX_WORKERS // workers)
    # Spawned, not forked: a fork of a process that has started torch's thread pool can hang.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(threads,)) as pool:
        yield from pool.map(_score_chunk, chunks)


def _write_summaries(path: Path, groups: dict[tuple[str, str], list[ScoredResponse]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(SUMMARY_COLUMNS)
        for (participant, prompt), scored in groups.items():
            summary = asdict(summarise_scored(prompt, scored))
            summary["participant"] = participant
            summary["excluded"] = "; ".join(f"{reason}: {n}" for reason, n in sorted(summary["excluded"].items()))
            writer.writerow(["" if summary[name] is None else summary[name] for name in SUMMARY_COLUMNS])


def score_aut_file(
    in_path: Path,
    out_path: Path,
    progress: Callable[[int, int], None] | None = None,
    *,
    workers: int = 1,
    summary_path: Path | None = None,
) -> AutFileResult:
    """Score every row. `progress(done, total)` is called after each chunk. With `summary_path`, the input
    needs a participant column and each participant's answers to each object are summarised there."""
    header, rows = _read_rows(Path(in_path))
    lowered = [name.strip().lower() for name in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in lowered]
    if missing:
        raise AutFileError(
            f"{in_path} has no column {' or '.join(missing)} (found: {', '.join(header) or 'nothing'}); "
            "the first row must name the columns, including prompt and response."
        )
    if summary_path is not None and PARTICIPANT_COLUMN not in lowered:
        raise AutFileError(
            f"{in_path} has no column {PARTICIPANT_COLUMN}, which a per-participant summary needs "
            f"(found: {', '.join(header)})."
        )
    output_header, renamed = _output_header(header)
    prompt_at, response_at = lowered.index("prompt"), lowered.index("response")
    participant_at = lowered.index(PARTICIPANT_COLUMN) if PARTICIPANT_COLUMN in lowered else None

    def cell(row: list[str], at: int) -> str:
        return row[at] if at < len(row) else ""

    counts: dict[str, int] = {}
    groups: dict[tuple[str, str], list[ScoredResponse]] = {}
    out_path = Path(out_path)
    chunks = [rows[start : start + CHUNK_ROWS] for start in range(0, len(rows), CHUNK_ROWS)]
    pair_chunks = [[(cell(r, prompt_at), cell(r, response_at)) for r in chunk] for chunk in chunks]
    # Written beside the targets, then renamed: a failure half-way never leaves a truncated file.
    targets = [out_path] + ([Path(summary_path)] if summary_path is not None else [])
    partials = [target.with_name(target.name + ".partial") for target in targets]
    try:
        with open(partials[0], "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([*output_header, *ADDED_COLUMNS])
            done = 0
            for chunk, scored in zip(chunks, _scored_chunks(pair_chunks, workers), strict=True):
                for row, result in zip(chunk, scored, strict=True):
                    counts[result.status] = counts.get(result.status, 0) + 1
                    padded = row + [""] * (len(header) - len(row))
                    originality = "" if result.originality is None else f"{result.originality:.2f}"
                    elaboration = "" if result.elaboration is None else str(result.elaboration)
                    writer.writerow([*padded, originality, elaboration, result.status])
                    if summary_path is not None:
                        assert participant_at is not None  # a summary needs the column, checked above
                        key = (padded[participant_at].strip(), result.prompt.lower())
                        groups.setdefault(key, []).append(result)
                done += len(chunk)
                if progress:
                    progress(done, len(rows))
        if summary_path is not None:
            _write_summaries(partials[1], groups)
        for partial, target in zip(partials, targets, strict=True):
            os.replace(partial, target)
    except OSError as error:
        for partial in partials:
            partial.unlink(missing_ok=True)
        raise AutFileError(f"Cannot write {error.filename or out_path}: {error.strerror or error}.") from None
    except BaseException:
        for partial in partials:
            partial.unlink(missing_ok=True)
        raise
    return AutFileResult(counts=counts, renamed=renamed)
