import pytest
from django.core.management import call_command
from django.db import connection

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
