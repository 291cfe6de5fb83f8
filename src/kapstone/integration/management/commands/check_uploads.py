"""`kapstone check_uploads`: lists journal pictures whose file is missing from storage (the entry shows no
picture) and files no entry names; `--remove-orphans` deletes the latter, as the beat sweep does."""

from django.core.management.base import BaseCommand, CommandError

from kapstone.audit import context
from kapstone.integration import selectors, services

PROBLEMS_FOUND = 1


class Command(BaseCommand):
    help = "List journal pictures missing from storage, and files in storage no journal entry names."

    def add_arguments(self, parser):
        parser.add_argument("--remove-orphans", action="store_true", help="delete the files no entry names")

    def handle(self, *args, remove_orphans: bool, **options):
        token = context.set_current(context.for_command("check_uploads"))
        try:
            if remove_orphans:
                removed = services.journal_orphan_uploads_remove()
                self.stdout.write(f"Removed {len(removed)} files no journal entry names.")
            check = selectors.journal_uploads_check()
        finally:
            context.reset(token)
        for entry_id in check.missing:
            self.stdout.write(f"missing: the picture of journal entry {entry_id} is not in storage")
        for name in check.orphans:
            self.stdout.write(f"orphan: {name} belongs to no journal entry")
        if check.missing or check.orphans:
            raise CommandError(
                f"{len(check.missing)} missing pictures, {len(check.orphans)} orphan files.", returncode=PROBLEMS_FOUND
            )
        self.stdout.write("Every journal picture is in storage, and every stored picture has its entry.")
