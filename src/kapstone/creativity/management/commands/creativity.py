"""`kapstone creativity score-aut IN.csv --out OUT.csv` and `kapstone creativity score-dat WORD ...`.

score-aut appends originality (1-5), elaboration and status to every row of a CSV with columns
prompt,response (others kept, order kept) and reports progress on stderr. score-dat prints the Divergent
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
        aut = subcommands.add_parser("score-aut", help="score a CSV of AUT responses (columns prompt,response)")
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
            counts = score_aut_file(in_csv, out_csv, progress=progress)
        except AutFileError as error:
            raise CommandError(str(error), returncode=USAGE_ERROR) from None
        summary = ", ".join(f"{status}: {count}" for status, count in sorted(counts.items()))
        self.stdout.write(f"wrote {out_csv} ({summary or 'no rows'})")

    def score_dat(self, words: list[str]) -> None:
        from kapstone.creativity.dat import score_dat

        if not words:
            raise CommandError(
                "Give the words, e.g. `kapstone creativity score-dat cat ...` (10 nouns).", returncode=USAGE_ERROR
            )
        self.stdout.write(json.dumps(score_dat(words), indent=2))
