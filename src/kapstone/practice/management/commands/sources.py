"""`kapstone sources`: the bibliography every data file cites, and a check that they all cite it."""

from django.core.management.base import BaseCommand, CommandError

from kapstone import bibliography


class Command(BaseCommand):
    help = (
        "List Kapstone's sources (src/kapstone/sources.yaml). --markdown prints docs/sources.md; --check exits 1 "
        "if any data file cites no source id or an unknown one."
    )

    def add_arguments(self, parser):
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--markdown", action="store_true", help="print the bibliography as docs/sources.md")
        action.add_argument("--check", action="store_true", help="check every data file's citations")

    def handle(self, *args, markdown: bool, check: bool, **options):
        if markdown:
            self.stdout.write(bibliography.markdown(), ending="")
            return
        if check:
            problems = bibliography.citation_problems()
            if problems:
                raise CommandError("\n".join(problems))
            self.stdout.write(f"Every citation names a known source ({len(bibliography.sources())} sources).")
            return
        for source in bibliography.sources().values():
            self.stdout.write(f"{source.id:<28} {source.kind:<12} {source.citation}")
