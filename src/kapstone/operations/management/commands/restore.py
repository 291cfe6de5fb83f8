import os

from django.core.management.base import BaseCommand, CommandError

from kapstone.audit import context
from kapstone.audit import services as audit
from kapstone.operations.backup import BackupError, restore


class Command(BaseCommand):
    help = (
        "Restores a backup made by `kapstone backup` into a freshly migrated database (key: KAPSTONE_BACKUP_KEY). "
        "Run it as the database owner."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The backup file.")
        parser.add_argument(
            "--replace", action="store_true", help="Erase everything in a database that is not empty first."
        )

    def _progress(self, message: str) -> None:
        # On stderr, so what a script reads from stdout is the summary alone.
        self.stderr.write(f"  {message}")

    def handle(self, *args, file, replace, **options):
        token = context.set_current(context.for_command("restore"))
        try:
            summary = restore(
                in_path=file, key=os.environ.get("KAPSTONE_BACKUP_KEY", ""), replace=replace, progress=self._progress
            )
            audit.record(action=audit.Action.CREATE, object_type="restore", detail={"file": os.path.basename(file)})
        except FileNotFoundError:
            raise CommandError(f"There is no backup file {file}.", returncode=2) from None
        except (BackupError, OSError) as problem:
            raise CommandError(str(problem), returncode=2) from None
        finally:
            context.reset(token)
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {summary.rows} rows into {summary.tables} tables and {summary.files} uploaded files. "
                "Run `kapstone verify_audit` to check the audit trail."
            )
        )
