import getpass
import secrets
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from kapstone.accounts import services
from kapstone.accounts.roles import Role
from kapstone.audit import context


class Command(BaseCommand):
    help = (
        "First run on an empty, migrated database: creates the practice's first admin, who enrols two-factor at "
        "first sign-in. Asks for what the flags do not give; no demo data is involved."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username")
        parser.add_argument("--email")
        parser.add_argument("--first-name")
        parser.add_argument("--last-name")
        parser.add_argument(
            "--password",
            help="The admin's temporary password. Without it (and without a terminal) one is generated and printed.",
        )

    def handle(self, *args, **options):
        users = get_user_model().objects
        if users.exists():
            raise CommandError(
                "This database already has logins; setup_practice only runs once, on an empty database. "
                "Admins add staff from the Staff page.",
                returncode=2,
            )
        interactive = sys.stdin.isatty()
        values = {}
        for name, label in [
            ("username", "Admin username"),
            ("email", "Admin email"),
            ("first_name", "First name"),
            ("last_name", "Last name"),
        ]:
            value = (options.get(name) or "").strip()
            if not value and interactive:
                value = input(f"{label}: ").strip()
            if not value:
                raise CommandError(f"--{name.replace('_', '-')} is required.", returncode=2)
            values[name] = value
        try:
            validate_email(values["email"])
        except ValidationError:
            raise CommandError(f"{values['email']!r} is not an email address.", returncode=2) from None
        password, generated = options.get("password"), False
        if not password and interactive:
            password = getpass.getpass("Temporary password (at least 12 characters): ")
        if not password:
            password, generated = secrets.token_urlsafe(18), True
        candidate = get_user_model()(**values)
        try:
            validate_password(password, candidate)
        except ValidationError as problems:
            raise CommandError("The password is refused: " + " ".join(problems.messages), returncode=2) from None
        token = context.set_current(context.for_command("setup_practice"))
        try:
            admin = services.staff_create(
                actor=None,
                role=Role.ADMIN,
                credentials="",
                password=password,
                **values,
            )
        finally:
            context.reset(token)
        self.stdout.write(self.style.SUCCESS(f"The practice's first admin, {admin.username}, can sign in now."))
        if generated:
            self.stdout.write(f"Temporary password: {password}")
        self.stdout.write(
            "At the first sign-in they enrol an authenticator app for two-factor sign-in, then add staff from the "
            "Staff page and change this password."
        )
