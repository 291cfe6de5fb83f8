"""SQLite refuses DELETE of controlled-substance records too, as PostgreSQL has since 0002 and 0007 (21 CFR 1304.04:
records are kept at least two years): the ledger's entries, receipts, inventories, waste and disposals cannot be
removed by raw SQL or a queryset .delete().

Only emptying the whole database with `flush` gets through, the way the audit trail allows it (kapstone.audit.db
explains how); a connection that lacks the function the triggers ask (the sqlite3 shell) is refused outright.
"""

from django.db import migrations

from kapstone.audit.db import EMPTYING_FUNCTION

MESSAGE = "ledger entries are immutable; record a correction instead"
TABLES = [
    "dosing_ledgerentry",
    "dosing_receipt",
    "dosing_inventory",
    "dosing_inventoryline",
    "dosing_waste",
    "dosing_disposal",
    "dosing_disposalitem",
]

FORWARD = [
    f"""
    CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
    WHEN NOT {EMPTYING_FUNCTION}()
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;
    """
    for table in TABLES
]
REVERSE = [f"DROP TRIGGER IF EXISTS {table}_no_delete;" for table in TABLES]


def add_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in FORWARD:
            schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in REVERSE:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("dosing", "0007_controlled_records_immutable"),
        ("audit", "0005_audit_trail_refuses_delete_on_sqlite"),
    ]

    operations = [migrations.RunPython(add_triggers, drop_triggers)]
