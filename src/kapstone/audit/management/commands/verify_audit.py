from django.core.management.base import BaseCommand, CommandError

from kapstone.audit.verification import verify_chain


class Command(BaseCommand):
    help = "Checks the audit trail's hash chain; exits non-zero naming the first broken entry."

    def handle(self, *args, **options):
        checked, broken = verify_chain(progress=lambda n: self.stderr.write(f"checked {n} entries…"))
        if broken is not None:
            raise CommandError(
                f"Audit trail broken at entry #{broken.event_id}: {broken.reason}. "
                f"{checked} entries before it are intact.",
                returncode=1,
            )
        self.stdout.write(self.style.SUCCESS(f"Audit trail intact: {checked} entries verified."))
