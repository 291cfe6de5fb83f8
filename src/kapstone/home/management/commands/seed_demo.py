import sys

from django.core.management.base import BaseCommand, CommandError

from kapstone.audit import context
from kapstone.home import demo

MAX_PATIENTS = 200_000


class Command(BaseCommand):
    help = "Builds the fictional demo practice from synthetic data (safe to run again) and prints the logins."

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=40, help="How many synthetic patients (default 40).")
        parser.add_argument("--seed", type=int, default=2026, help="Random seed, for a repeatable practice.")
        parser.add_argument("--quiet-logins", action="store_true", help="Do not print the demo logins.")

    def handle(self, *args, patients, seed, quiet_logins, **options):
        if not 1 <= patients <= MAX_PATIENTS:
            raise CommandError(f"--patients must be between 1 and {MAX_PATIENTS}.", returncode=2)
        token = context.set_current(context.for_command("seed_demo"))
        try:
            practice = demo.build(patients=patients, seed=seed, progress=lambda m: print(f"  {m}", file=sys.stderr))
        finally:
            context.reset(token)
        if not quiet_logins:
            self._print_logins(practice)

    def _print_logins(self, practice):
        out = self.stdout.write
        out("")
        out(self.style.SUCCESS(f"Demo logins (synthetic practice; password for everyone: {demo.DEMO_PASSWORD})"))
        out("Staff sign in with a 6-digit code: add the otpauth URL to an authenticator app, or run")
        out("  kapstone demo_code USERNAME   (prints the current code, demo only)")
        for username, user in practice.staff.items():
            role = f"{user.get_role_display()}{', medical director' if user.is_medical_director else ''}"
            out(f"  {username:<16} {role:<32} {practice.totp_secrets[username]}")
        out(
            "A controlled-substance entry's witness or checker signs with their own password, typed at the same screen."
        )
        out("Patients (portal, no code needed):")
        for username, name in practice.portal_logins:
            out(f"  {username:<16} {name}")
