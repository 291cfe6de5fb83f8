"""The controlled-substance log refuses changes in the database itself, so a raw queryset .update() or .delete()
(which skip LedgerEntry.save() and .delete()) cannot rewrite a Schedule III record either.

PostgreSQL refuses UPDATE and DELETE. SQLite refuses UPDATE only: Django empties SQLite tables with DELETE (a test
database is flushed that way after each transactional test) where PostgreSQL uses TRUNCATE, which row triggers do
not see. On SQLite, deletion stays refused by LedgerEntry.delete() and the PROTECT foreign keys.
"""

from django.db import migrations

MESSAGE = "ledger entries are immutable; record a correction instead"

POSTGRESQL_FORWARD = [
    f"""
    CREATE FUNCTION dosing_ledgerentry_refuse_change() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
    END;
    $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER dosing_ledgerentry_immutable BEFORE UPDATE OR DELETE ON dosing_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION dosing_ledgerentry_refuse_change();
    """,
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS dosing_ledgerentry_immutable ON dosing_ledgerentry;",
    "DROP FUNCTION IF EXISTS dosing_ledgerentry_refuse_change();",
]
SQLITE_FORWARD = [
    f"""
    CREATE TRIGGER dosing_ledgerentry_no_update BEFORE UPDATE ON dosing_ledgerentry
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;
    """,
]
SQLITE_REVERSE = ["DROP TRIGGER IF EXISTS dosing_ledgerentry_no_update;"]

STATEMENTS = {
    "postgresql": (POSTGRESQL_FORWARD, POSTGRESQL_REVERSE),
    "sqlite": (SQLITE_FORWARD, SQLITE_REVERSE),
}


def _run(schema_editor, direction: int) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in STATEMENTS:
        raise RuntimeError(f"Kapstone has no ledger immutability trigger for the {vendor} database.")
    for statement in STATEMENTS[vendor][direction]:
        schema_editor.execute(statement)


def add_triggers(apps, schema_editor):
    _run(schema_editor, 0)


def drop_triggers(apps, schema_editor):
    _run(schema_editor, 1)


class Migration(migrations.Migration):
    dependencies = [("dosing", "0001_initial")]

    operations = [migrations.RunPython(add_triggers, drop_triggers)]
