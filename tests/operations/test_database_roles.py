import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from kapstone.operations.management.commands import database_roles
from kapstone.operations.roles import RoleError, role_statements

ROLES = {"owner": "kapstone_test_owner", "app": "kapstone_test_app", "schema": "public", "database": "kapstone"}


def test_the_app_role_is_granted_rows_only():
    statements = "\n".join(role_statements(app_password="", **ROLES))
    assert 'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "public" TO "kapstone_test_app"' in statements
    assert "TRUNCATE" not in statements and "kapstone_test_app SUPERUSER" not in statements


@pytest.mark.parametrize("field,value", [("app", "Robert'); DROP"), ("owner", "kapstone_test_app")])
def test_bad_role_names_are_refused(field, value):
    with pytest.raises(RoleError):
        role_statements(app_password="", **{**ROLES, field: value})


@pytest.mark.skipif(connection.vendor != "postgresql", reason="database roles are PostgreSQL's")
def test_applied_the_app_role_can_write_rows_but_not_truncate_the_audit_trail(db):
    call_command("database_roles", "--owner", ROLES["owner"], "--app", ROLES["app"], "--apply")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT has_table_privilege(%s, 'audit_auditevent', 'INSERT'), "
            "has_table_privilege(%s, 'audit_auditevent', 'TRUNCATE'), "
            "(SELECT tableowner FROM pg_tables WHERE tablename = 'audit_auditevent'), "
            # Every append is a call of this function (audit migration 0007), run with the caller's privileges.
            "has_function_privilege(%s, 'audit_append(timestamptz[], bigint[], text[], text[], bigint[], text[], "
            "text[], text[], text[], text[], int[], bigint[], int)', 'EXECUTE')",
            [ROLES["app"], ROLES["app"], ROLES["app"]],
        )
        assert cursor.fetchone() == (True, False, ROLES["owner"], True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="database roles are PostgreSQL's")
def test_a_statement_refused_halfway_leaves_no_role_made_and_says_so_without_a_traceback(db, monkeypatch):
    half = {"owner": "kapstone_test_half_owner", "app": "kapstone_test_half_app"}

    def refused_after_the_roles(**kwargs):
        # The roles are made first; then a statement is refused, as a grant is without the privilege to give it.
        return [*role_statements(**kwargs), "SELECT 1 / 0"]

    monkeypatch.setattr(database_roles, "role_statements", refused_after_the_roles)
    with pytest.raises(CommandError, match="The roles were not set up, and nothing was changed: division by zero"):
        call_command("database_roles", "--owner", half["owner"], "--app", half["app"], "--apply")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_roles WHERE rolname IN (%s, %s)", [half["owner"], half["app"]])
        assert cursor.fetchone() == (0,)
