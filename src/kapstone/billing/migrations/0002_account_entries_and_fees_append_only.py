"""Account entries and fees refuse changes in the database itself, so a raw queryset .update() or .delete() (which
skip the models' save() and delete()) cannot rewrite the books either.

PostgreSQL refuses UPDATE and DELETE. SQLite refuses UPDATE, and DELETE except while `flush` empties the whole
database (kapstone.audit.db explains how; PostgreSQL empties with TRUNCATE, which row triggers do not see).
"""

from django.db import migrations

from kapstone.audit.db import EMPTYING_FUNCTION

MESSAGE = "account entries and fees are append-only; record a new entry instead"
TABLES = ("billing_accountentry", "billing_fee")

POSTGRESQL_FORWARD = [
    f"""
    CREATE FUNCTION billing_refuse_change() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
    END;
    $$ LANGUAGE plpgsql;
    """,
    *(
        f"""
        CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION billing_refuse_change();
        """
        for table in TABLES
    ),
]
POSTGRESQL_REVERSE = [
    *(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};" for table in TABLES),
    "DROP FUNCTION IF EXISTS billing_refuse_change();",
]
SQLITE_FORWARD = [
    statement
    for table in TABLES
    for statement in (
        f"""
        CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;
        """,
        f"""
        CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
        WHEN NOT {EMPTYING_FUNCTION}()
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;
        """,
    )
]
SQLITE_REVERSE = [
    f"DROP TRIGGER IF EXISTS {table}_{suffix};" for table in TABLES for suffix in ("no_update", "no_delete")
]

STATEMENTS = {
    "postgresql": (POSTGRESQL_FORWARD, POSTGRESQL_REVERSE),
    "sqlite": (SQLITE_FORWARD, SQLITE_REVERSE),
}


def _run(schema_editor, direction: int) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in STATEMENTS:
        raise RuntimeError(f"Kapstone has no append-only trigger for the {vendor} database.")
    for statement in STATEMENTS[vendor][direction]:
        schema_editor.execute(statement)


def add_triggers(apps, schema_editor):
    _run(schema_editor, 0)


def drop_triggers(apps, schema_editor):
    _run(schema_editor, 1)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_accounts_fees_and_profiles"), ("audit", "0005_audit_trail_refuses_delete_on_sqlite")]

    operations = [migrations.RunPython(add_triggers, drop_triggers)]
