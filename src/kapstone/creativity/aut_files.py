"""Score a CSV of AUT responses (columns prompt, response; any others are kept) into a new CSV with
`originality`, `elaboration` and `status` appended. Rows keep their order. Malformed input raises
AutFileError with a message that says what to fix; nothing is written then."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path

from kapstone.creativity.scoring import score_responses

CHUNK_ROWS = 1024
REQUIRED_COLUMNS = ("prompt", "response")
ADDED_COLUMNS = ("originality", "elaboration", "status")
# Generous: csv's default 128 kB per field would reject a pasted essay before it can be truncated.
csv.field_size_limit(10_000_000)


class AutFileError(Exception):
    pass


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
    except UnicodeDecodeError as error:
        raise AutFileError(f"{path} is not UTF-8 text (byte {error.start}): save it as UTF-8 CSV.") from None
    except csv.Error as error:
        raise AutFileError(f"{path} is not a readable CSV file: {error}.") from None
    except OSError as error:
        raise AutFileError(f"Cannot read {path}: {error.strerror or error}.") from None
    if not rows:
        raise AutFileError(f"{path} is empty: it needs a header row with the columns prompt,response.")
    return rows[0], rows[1:]


def score_aut_file(in_path: Path, out_path: Path, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Score every row; returns counts per status. `progress(done, total)` is called after each chunk."""
    header, rows = _read_rows(Path(in_path))
    lowered = [name.strip().lower() for name in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in lowered]
    if missing:
        raise AutFileError(
            f"{in_path} has no column {' or '.join(missing)} (found: {', '.join(header) or 'nothing'}); "
            "the first row must name the columns, including prompt and response."
        )
    clashing = [name for name in ADDED_COLUMNS if name in lowered]
    if clashing:
        raise AutFileError(f"{in_path} already has column(s) {', '.join(clashing)}; rename or drop them.")
    for number, row in enumerate(rows, start=2):
        if len(row) > len(header):
            raise AutFileError(f"{in_path} line {number} has {len(row)} fields but the header has {len(header)}.")
    prompt_at, response_at = lowered.index("prompt"), lowered.index("response")

    def cell(row: list[str], at: int) -> str:
        return row[at] if at < len(row) else ""

    counts: dict[str, int] = {}
    out_path = Path(out_path)
    # Written beside the target, then renamed: a failure half-way never leaves a truncated OUT file.
    partial = out_path.with_name(out_path.name + ".partial")
    try:
        with open(partial, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([*header, *ADDED_COLUMNS])
            for start in range(0, len(rows), CHUNK_ROWS):
                chunk = rows[start : start + CHUNK_ROWS]
                scored = score_responses([(cell(r, prompt_at), cell(r, response_at)) for r in chunk])
                for row, result in zip(chunk, scored, strict=True):
                    counts[result.status] = counts.get(result.status, 0) + 1
                    padded = row + [""] * (len(header) - len(row))
                    originality = "" if result.originality is None else f"{result.originality:.2f}"
                    elaboration = "" if result.elaboration is None else str(result.elaboration)
                    writer.writerow([*padded, originality, elaboration, result.status])
                if progress:
                    progress(min(start + CHUNK_ROWS, len(rows)), len(rows))
        os.replace(partial, out_path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise AutFileError(f"Cannot write {out_path}: {error.strerror or error}.") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return counts
