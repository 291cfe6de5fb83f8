"""`kapstone creativity score-aut IN.csv --out OUT.csv` and `kapstone creativity score-dat WORD ...`.

score-aut appends originality (1-5), elaboration and status to every row of a CSV with columns
prompt,response (others kept, order kept; an input column named like an added one is kept as
`<name>_input`, said on stderr) and reports progress on stderr. score-dat prints the Divergent
Association Task result as JSON. Malformed input exits with status 2 and a message saying what to fix.
"""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

USAGE_ERROR = 2


class Command(BaseCommand):
    help = "Score creativity tasks: the Alternative Uses Task (CSV) and the Divergent Association Task."
    # Pure computation: needs neither the database nor the system checks.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        subcommands = parser.add_subparsers(dest="subcommand", title="subcommands")
        from kapstone.creativity.aut_files import MAX_FILE_BYTES, MAX_ROWS

        aut_summary = (
            "score a UTF-8 CSV of AUT responses (columns prompt,response; at most "
            f"{MAX_ROWS:,} rows and {MAX_FILE_BYTES // (1024 * 1024)} MB)"
        )
        aut = subcommands.add_parser("score-aut", help=aut_summary, description=aut_summary)
        aut.add_argument("in_csv", type=Path)
        aut.add_argument("--out", type=Path, required=True, help="where to write the scored CSV")
        dat = subcommands.add_parser("score-dat", help="score a Divergent Association Task answer (10 nouns)")
        dat.add_argument("words", nargs="*")

    def handle(self, *args, **options):
        subcommand = options.get("subcommand")
        if subcommand == "score-aut":
            self.score_aut(options["in_csv"], options["out"])
        elif subcommand == "score-dat":
            self.score_dat(options["words"])
        else:
            raise CommandError(
                "Choose a subcommand: score-aut IN.csv --out OUT.csv, or score-dat WORD ...", returncode=USAGE_ERROR
            )

    def score_aut(self, in_csv: Path, out_csv: Path) -> None:
        from kapstone.creativity.aut_files import AutFileError, score_aut_file

        def progress(done: int, total: int) -> None:
            sys.stderr.write(f"\rscored {done}/{total} responses")
            sys.stderr.flush()
            if done == total:
                sys.stderr.write("\n")

        try:
            result = score_aut_file(in_csv, out_csv, progress=progress)
        except AutFileError as error:
            raise CommandError(str(error), returncode=USAGE_ERROR) from None
        for old, new in result.renamed.items():
            sys.stderr.write(f"input column {old!r} is kept as {new!r}: OUT adds its own {old.strip().lower()!r}\n")
        summary = ", ".join(f"{status}: {count}" for status, count in sorted(result.counts.items()))
        self.stdout.write(f"wrote {out_csv} ({summary or 'no rows'})")

    def score_dat(self, words: list[str]) -> None:
        from kapstone.creativity.dat import score_dat

        if not words:
            raise CommandError(
                "Give the words, e.g. `kapstone creativity score-dat cat ...` (10 nouns).", returncode=USAGE_ERROR
            )
        self.stdout.write(json.dumps(score_dat(words), indent=2))
