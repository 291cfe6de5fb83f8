"""The records that complete a ledger entry (a receipt's supplier and invoice, an inventory and its counts, a
waste's method, a disposal and its items) are refused changes in the database like the entries themselves
(0002_ledger_entries_immutable): PostgreSQL refuses UPDATE and DELETE, SQLite UPDATE (Django empties SQLite
tables with DELETE between tests; the PROTECT foreign keys from the entries still hold the rows)."""

from django.db import migrations

TABLES = [
    "dosing_receipt",
    "dosing_inventory",
    "dosing_inventoryline",
    "dosing_waste",
    "dosing_disposal",
    "dosing_disposalitem",
]
MESSAGE = "controlled-substance records are immutable; record a correction instead"


def _statements(vendor: str, forward: bool) -> list[str]:
    if vendor == "postgresql":
        if not forward:
            drops = [f"DROP TRIGGER IF EXISTS {table}_immutable ON {table};" for table in TABLES]
            return [*drops, "DROP FUNCTION IF EXISTS dosing_record_refuse_change();"]
        function = f"""
            CREATE FUNCTION dosing_record_refuse_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
            END;
            $$ LANGUAGE plpgsql;
        """
        triggers = [
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION dosing_record_refuse_change();"
            for table in TABLES
        ]
        return [function, *triggers]
    if vendor == "sqlite":
        if not forward:
            return [f"DROP TRIGGER IF EXISTS {table}_no_update;" for table in TABLES]
        return [
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;"
            for table in TABLES
        ]
    raise RuntimeError(f"Kapstone has no record immutability trigger for the {vendor} database.")


def add_triggers(apps, schema_editor):
    for statement in _statements(schema_editor.connection.vendor, forward=True):
        schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    for statement in _statements(schema_editor.connection.vendor, forward=False):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("dosing", "0006_registrations_receipts_inventories_waste_disposal_loss")]

    operations = [migrations.RunPython(add_triggers, drop_triggers)]
