import os

from django.core.management.base import BaseCommand, CommandError

from kapstone.audit import context
from kapstone.audit import services as audit
from kapstone.operations.backup import BackupError, backup


class Command(BaseCommand):
    help = "Writes an encrypted backup of the database and the uploaded files (key: KAPSTONE_BACKUP_KEY)."

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, help="The file to write, e.g. kapstone-2026-12-05.kbak")

    def _progress(self, message: str) -> None:
        # On stderr, so what a script reads from stdout is the summary alone.
        self.stderr.write(f"  {message}")

    def handle(self, *args, out, **options):
        token = context.set_current(context.for_command("backup"))
        try:
            # Recorded first, so the backup holds the entry that says it was taken.
            audit.record(action=audit.Action.EXPORT, object_type="backup", detail={"file": os.path.basename(out)})
            summary = backup(out_path=out, key=os.environ.get("KAPSTONE_BACKUP_KEY", ""), progress=self._progress)
        except (BackupError, OSError) as problem:
            raise CommandError(str(problem), returncode=2) from None
        finally:
            context.reset(token)
        self.stdout.write(
            self.style.SUCCESS(
                f"Backed up {summary.rows} rows from {summary.tables} tables and {summary.files} uploaded files "
                f"to {out}."
            )
        )
