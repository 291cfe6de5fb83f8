from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection, transaction

from kapstone.operations.roles import RoleError, role_statements


class Command(BaseCommand):
    help = (
        "Prints (or with --apply runs) the SQL that sets up PostgreSQL's two roles: an owner that runs migrations "
        "and owns the tables, and an app role that may only SELECT, INSERT, UPDATE and DELETE, so it can neither "
        "TRUNCATE the audit trail nor drop the triggers that keep it and the ledger append-only."
    )

    def add_arguments(self, parser):
        parser.add_argument("--owner", default="kapstone_owner", help="Role that owns the schema (migrations).")
        parser.add_argument("--app", default="kapstone_app", help="Role the web and worker processes connect as.")
        parser.add_argument("--app-password", default="", help="Sets the app role's password (else set it yourself).")
        parser.add_argument("--schema", default="public")
        parser.add_argument(
            "--apply", action="store_true", help="Run the statements (connected as a superuser or the owner)."
        )

    def handle(self, *args, owner, app, app_password, schema, apply, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Database roles are for PostgreSQL; this database is " + connection.vendor, returncode=2)
        try:
            statements = role_statements(
                owner=owner,
                app=app,
                app_password=app_password,
                schema=schema,
                database=connection.settings_dict["NAME"],
            )
        except RoleError as problem:
            raise CommandError(str(problem), returncode=2) from None
        if not apply:
            for statement in statements:
                self.stdout.write(statement)
            return
        # One transaction (PostgreSQL creates roles and grants transactionally): a statement refused halfway, most
        # often for want of the privilege to create roles, leaves no role made and no grant half given.
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        except DatabaseError as problem:
            reason = str(problem).splitlines()[0]
            raise CommandError(
                f"The roles were not set up, and nothing was changed: {reason}. Run it connected as a superuser, or "
                "as a role that may create roles and owns the database.",
                returncode=1,
            ) from None
        self.stdout.write(self.style.SUCCESS(f"Roles {owner} (owner) and {app} (app) are set up."))
