"""`kapstone rotate_notes_key`: re-encrypts every psychotherapy note under the current notes key.

To replace a key: put the new key first in KAPSTONE_NOTES_KEY and keep the old one after it
(`NEW,OLD`), restart, run this command, then remove OLD. While it runs every key in the list still opens notes.
`--new-key` prints a fresh key to put first.
"""

from django.core.management.base import BaseCommand, CommandError

from kapstone.audit import context
from kapstone.integration import crypto, services

UNREADABLE_NOTES = 1
BAD_KEY = 2


class Command(BaseCommand):
    help = "Re-encrypt every psychotherapy note under the first key in KAPSTONE_NOTES_KEY."

    def add_arguments(self, parser):
        parser.add_argument("--new-key", action="store_true", help="print a new Fernet key and exit")

    def handle(self, *args, new_key: bool, **options):
        if new_key:
            self.stdout.write(crypto.new_key())
            return
        token = context.set_current(context.for_command("rotate_notes_key"))
        try:
            result = services.psychotherapy_notes_reencrypt(progress=lambda said: self.stderr.write(f"  {said}"))
        except crypto.NotesKeyError as error:
            raise CommandError(str(error), returncode=BAD_KEY) from None
        finally:
            context.reset(token)
        self.stdout.write(f"Re-encrypted {result.reencrypted} psychotherapy notes under the current key.")
        if result.unreadable:
            raise CommandError(
                f"{len(result.unreadable)} notes open under none of the configured keys and were left as they are "
                f"(ids {', '.join(map(str, result.unreadable))}): add the key they were written under, then run "
                "this again.",
                returncode=UNREADABLE_NOTES,
            )
