"""`kapstone report <kind> ...`: reports from Kapstone. Each kind is a subcommand.

    kapstone report outcomes --out FILE [--format html|pdf] [--from DATE] [--to DATE] [--template ID]
                             [--facilitator USERNAME] [--indication NAME]

Bad input exits with status 2 and a message.
"""

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from kapstone.audit import context
from kapstone.outcomes import cli, render, services


class Command(BaseCommand):
    help = "Write a report (kinds: outcomes)."

    def add_arguments(self, parser):
        kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
        outcomes = kinds.add_parser("outcomes", help="the practice outcomes report (HTML or PDF)")
        outcomes.add_argument("--out", required=True, help="file to write: .html or .pdf")
        outcomes.add_argument("--format", choices=render.FORMATS, help="html or pdf (default: from --out)")
        cli.add_filter_arguments(outcomes)

    def handle(self, *args, **options):
        path = Path(options["out"])
        try:
            fmt = render.format_for(path, options.get("format"))
        except ValueError as error:
            raise CommandError(str(error), returncode=cli.USAGE_ERROR) from None
        if not path.parent.is_dir():
            raise CommandError(f"The folder {str(path.parent)!r} does not exist.", returncode=cli.USAGE_ERROR)
        filters, facilitator_label = cli.filters_from(options)
        token = context.set_current(context.for_command("report outcomes"))
        started = time.perf_counter()
        try:
            # Progress on stderr, so what a script reads from stdout is the summary alone; a large practice's build
            # and a PDF's layout each take a while.
            self.stderr.write("  building the outcomes report")
            report = services.report_for_document(filters=filters, facilitator_label=facilitator_label, min_cell=0)
            self.stderr.write(f"  writing it as {fmt.upper()} ({report.cohort} patients)")
            written = render.write_report(report, path, fmt)
        except OSError as error:
            raise CommandError(
                f"Could not write {str(path)!r}: {error.strerror}.", returncode=cli.USAGE_ERROR
            ) from None
        finally:
            context.reset(token)
        self.stdout.write(
            f"Wrote the outcomes report ({report.cohort} patients, {written:,} bytes) to {path} "
            f"in {time.perf_counter() - started:.1f} s."
        )
