"""`kapstone creativity score-aut IN.csv --out OUT.csv` and `kapstone creativity score-dat WORD ...`.

score-aut appends originality (1-5), elaboration and status to every row of a CSV with columns
prompt,response (others kept, order kept; an input column named like an added one is kept as
`<name>_input`, said on stderr) and reports progress on stderr. score-dat prints the Divergent
Association Task result as JSON. Malformed input exits with status 2 and a message saying what to fix.
"""

import argparse
import json
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from kapstone.creativity import aut_files, dat

USAGE_ERROR = 2
# Without a terminal (a log file, a pipe) progress is a line per tenth of the file rather than a redrawn line.
PROGRESS_LINES = 10

AUT_COLUMNS = """\
input (UTF-8 CSV, first row names the columns, in any order):
  prompt        the object, e.g. brick ('a brick', 'Bricks' are the same object)
  response      one use the participant wrote (one idea per row)
  participant   optional; needed for --summary
  any others    kept as they are; one named like an added column is kept as <name>_input

output (OUT: every input row and column, in order, then):
  originality   1-5, predicted from human ratings (empty when not scored)
  elaboration   content words beyond the first (empty when not scored)
  status        ok, truncated (cut to 500 characters, still scored), or why it was not scored:
                empty, too_short, not_english_or_garbage, repetitive, not_english, missing_prompt

summary (--summary FILE: one row per participant and object, in order of first appearance):
  participant, prompt, responses_given, fluency (valid, non-duplicate), flexibility (distinct
  categories), originality_mean, originality_top2_mean, elaboration_mean, excluded (reason: count)

Malformed input (not UTF-8, a NUL byte, an unclosed quote, too many fields, no prompt/response header,
too large) exits with status 2 and names the line; nothing is written then.
"""


def _positive_workers(text: str) -> int:
    try:
        workers = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    most = aut_files.MAX_WORKERS
    if not 1 <= workers <= most:
        raise argparse.ArgumentTypeError(f"give 1 to {most} workers (this machine has {most} cores)")
    return workers


class Progress:
    """Progress on stderr: the count, the rate and the time left."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.interactive = stream.isatty()
        self.started = time.perf_counter()
        self.tenths_shown = 0

    def __call__(self, done: int, total: int) -> None:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = done / elapsed
        left = (total - done) / rate if rate else 0.0
        text = f"scored {done}/{total} responses ({rate:.0f}/s, {left:.0f} s left)"
        if self.interactive:
            self.stream.write(f"\r{text}" + ("\n" if done == total else ""))
        elif done * PROGRESS_LINES // total > self.tenths_shown:
            self.stream.write(text + "\n")
            self.tenths_shown = done * PROGRESS_LINES // total
        self.stream.flush()


class Command(BaseCommand):
    help = "Score creativity tasks: the Alternative Uses Task (CSV) and the Divergent Association Task."
    # Pure computation: needs neither the database nor the system checks.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        subcommands = parser.add_subparsers(dest="subcommand", title="subcommands")
        aut_summary = (
            "score a UTF-8 CSV of AUT responses (columns prompt,response; at most "
            f"{aut_files.MAX_ROWS:,} rows and {aut_files.MAX_FILE_BYTES // (1024 * 1024)} MB)"
        )
        aut = subcommands.add_parser(
            "score-aut",
            help=aut_summary,
            description=aut_summary,
            epilog=AUT_COLUMNS,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        aut.add_argument("in_csv", type=Path, help="the responses (columns below)")
        aut.add_argument("--out", type=Path, required=True, help="where to write the scored CSV")
        aut.add_argument(
            "--workers",
            type=_positive_workers,
            default=1,
            help="processes that score chunks of 1,024 rows side by side (default 1; each loads the model)",
        )
        aut.add_argument(
            "--summary", type=Path, help="also write one row per participant and object (needs a participant column)"
        )
        dat_task = subcommands.add_parser("score-dat", help="score a Divergent Association Task answer (10 nouns)")
        dat_task.add_argument("words", nargs="*")

    def handle(self, *args, **options):
        subcommand = options.get("subcommand")
        if subcommand == "score-aut":
            self.score_aut(options["in_csv"], options["out"], workers=options["workers"], summary=options["summary"])
        elif subcommand == "score-dat":
            self.score_dat(options["words"])
        else:
            raise CommandError(
                "Choose a subcommand: score-aut IN.csv --out OUT.csv, or score-dat WORD ...", returncode=USAGE_ERROR
            )

    def score_aut(self, in_csv: Path, out_csv: Path, *, workers: int, summary: Path | None) -> None:
        try:
            result = aut_files.score_aut_file(
                in_csv, out_csv, progress=Progress(sys.stderr), workers=workers, summary_path=summary
            )
        except aut_files.AutFileError as error:
            raise CommandError(str(error), returncode=USAGE_ERROR) from None
        for old, new in result.renamed.items():
            sys.stderr.write(f"input column {old!r} is kept as {new!r}: OUT adds its own {old.strip().lower()!r}\n")
        counts = ", ".join(f"{status}: {count}" for status, count in sorted(result.counts.items()))
        self.stdout.write(f"wrote {out_csv} ({counts or 'no rows'})" + (f" and {summary}" if summary else ""))

    def score_dat(self, words: list[str]) -> None:
        if not words:
            raise CommandError(
                "Give the words, e.g. `kapstone creativity score-dat cat ...` (10 nouns).", returncode=USAGE_ERROR
            )
        self.stdout.write(json.dumps(dat.score_dat(words), indent=2))
